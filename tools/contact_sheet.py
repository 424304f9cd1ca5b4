"""A contact sheet of a video: frames at evenly spaced times in a grid, each captioned with its time. Makes the
README's picture of the demo (`python tools/contact_sheet.py demo-output/r2v-demo.mp4 docs/demo.png`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np


def frames_at(path: Path, count: int) -> list[tuple[float, np.ndarray]]:
    """`count` frames at evenly spaced times (the middle of each of `count` equal parts), as (seconds, RGB)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total = stream.frames or int(float(stream.duration * stream.time_base) * float(stream.average_rate))
        wanted = {int((i + 0.5) * total / count) for i in range(count)}
        rate = float(stream.average_rate)
        found = []
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                found.append((index / rate, frame.to_ndarray(format="rgb24")))
        return found


def sheet(frames: list[tuple[float, np.ndarray]], columns: int, width: int) -> np.ndarray:
    tile_w = width // columns
    tiles = []
    for seconds, rgb in frames:
        tile = cv2.resize(rgb, (tile_w, round(rgb.shape[0] * tile_w / rgb.shape[1])), interpolation=cv2.INTER_AREA)
        for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):  # white on a dark outline: any backdrop
            cv2.putText(tile, f"{seconds:.1f} s", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, thickness,
                        cv2.LINE_AA)  # fmt: skip
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    picture = sheet(frames_at(args.video, args.frames), args.columns, args.width)
    cv2.imwrite(str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    print(args.out)


if __name__ == "__main__":
    main()
