"""Render speed of the default (animatic) engine on the user guide's multi-subject example (5 references, two
speakers with reference voices, watermark, 10 s), at 720P and 1080P, beside the floor: the time the same encoder
settings take to encode the same frames and sound, and nothing else.

    python benchmarks/render.py [--runs 5]

Timed as a server's worker runs it: warm (the engine's warm_up, and one untimed render first, as a worker that
has rendered before). Render and floor runs alternate, so that a noisy neighbour slows both alike.

Targets (issue 4), on a 2-core machine: 720P under 5 s, 1080P under 10 s, and under 1.5x the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2v.demo.assets import make_guide_assets  # noqa: E402
from r2v.demo.guide import PROMPT  # noqa: E402
from r2v.director import Cast, direct  # noqa: E402
from r2v.engines.animatic import AnimaticEngine  # noqa: E402
from r2v.engines.base import Asset, RenderJob  # noqa: E402
from r2v.media.probe import probe  # noqa: E402
from r2v.render.decode import read_audio  # noqa: E402
from r2v.render.encoder import Mp4Writer  # noqa: E402

SIZES = {"720P": (1280, 720), "1080P": (1920, 1080)}


def guide_job(files: dict[str, Path], width: int, height: int) -> RenderJob:
    def asset(name: str, kind: str, label: str, voice: str | None = None) -> Asset:
        return Asset(kind, files[name], probe(files[name], name), label, files[voice] if voice else None)

    members = [
        asset("girl", "image", "图1", "girl_voice"),
        asset("boy_video", "video", "视频1", "boy_voice"),
        asset("sunflowers", "image", "图2"),
        asset("guitar", "image", "图3"),
        asset("room", "image", "图4"),
    ]
    board = direct(PROMPT, Cast.of([(m.label, m.kind) for m in members]), 10)
    return RenderJob(width=width, height=height, duration=10, seed=42, watermark=True, audio=True, assets=members,
                     prompt=PROMPT, storyboard=board)  # fmt: skip


def floor_seconds(rendered: Path, out: Path) -> float:
    """Encoding only: the rendered video's own frames and sound through a fresh writer (decoding not timed)."""
    sound = read_audio(rendered)
    with av.open(str(rendered)) as container:
        stream = container.streams.video[0]
        writer = Mp4Writer(out, stream.codec_context.width, stream.codec_context.height, sound)
        spent = 0.0
        for frame in container.decode(stream):
            picture = frame.to_ndarray(format="rgb24")
            started = time.perf_counter()
            writer.write_frame(picture)
            spent += time.perf_counter() - started
        started = time.perf_counter()
        writer.close()
        return spent + time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_guide_assets(Path(tmp) / "assets")
        engine = AnimaticEngine()
        engine.warm_up()
        engine.render(guide_job(files, *SIZES["720P"]), Path(tmp) / "warm-up.mp4", lambda _: None)
        for name, (width, height) in SIZES.items():
            renders, floors = [], []
            for run in range(args.runs):
                out = Path(tmp) / f"{name}-{run}.mp4"
                job = guide_job(files, width, height)
                started = time.perf_counter()
                engine.render(job, out, lambda _: None)
                renders.append(time.perf_counter() - started)
                floors.append(floor_seconds(out, Path(tmp) / f"{name}-{run}-floor.mp4"))
            render, floor = statistics.median(renders), statistics.median(floors)
            print(f"{name} 10 s: render median {render:.2f} s (all {', '.join(f'{r:.2f}' for r in renders)}); "
                  f"encode-only floor {floor:.2f} s; ratio {render / floor:.2f}x", flush=True)  # fmt: skip
    print(f"machine: {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
