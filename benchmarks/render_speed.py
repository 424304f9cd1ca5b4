"""Render speed of the whole pipeline (`r2v generate`: process start, probing sandbox, director, voices, default
engine): the user guide's multi-subject example (its prompt with two spoken lines, 5 references, 2 voices,
watermark) at 720P and 1080P, 10 s each, rendered several times.

    python benchmarks/render_speed.py [--runs 3]

Reports the median wall time per render and how many times faster than real time it is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from r2v.demo.assets import make_guide_assets
from r2v.demo.guide import PROMPT, multi_subject_media


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_guide_assets(Path(tmp) / "assets")
        for resolution in ("720P", "1080P"):
            request = {
                "model": "wan2.7-r2v",
                "input": {"prompt": PROMPT, "media": multi_subject_media(lambda name: str(files[name]))},
                "parameters": {"resolution": resolution, "duration": 10, "watermark": True, "seed": 1},
            }
            path = Path(tmp) / f"{resolution}.json"
            path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                command = [sys.executable, "-m", "r2v", "generate", str(path), "-o", str(Path(tmp) / "o.mp4"), "-q"]
                subprocess.run(command, check=True, capture_output=True)
                times.append(time.perf_counter() - started)
            median = statistics.median(times)
            print(f"{resolution} 10 s: median {median:.2f} s over {args.runs} runs ({10 / median:.1f}x real time); "
                  f"all: {', '.join(f'{t:.2f}' for t in times)}")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
