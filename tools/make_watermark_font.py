"""Rebuild src/r2v/render/assets/watermark-font.otf: the glyphs of the watermark text, cut out of Noto Sans CJK SC
Bold (SIL Open Font License 1.1, licence text beside the font). Run by hand after `apt-get install fonts-noto-cjk`;
nothing at run time or test time needs it.
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

TEXT = "AI生成"
SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
TARGET = Path(__file__).resolve().parents[1] / "src/r2v/render/assets/watermark-font.otf"


def main() -> int:
    collection = TTCollection(SOURCE)
    font = next(f for f in collection.fonts if "SC" in f["name"].getDebugName(1))
    options = subset.Options()
    options.name_IDs = ["*"]  # keep copyright, licence and reserved-name records (OFL requirement)
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=TEXT)
    subsetter.subset(font)
    font.save(str(TARGET))
    print(TARGET, TARGET.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
