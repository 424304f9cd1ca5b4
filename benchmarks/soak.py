"""Soak: many concurrent clients creating, polling, cancelling, listing and downloading for a bounded time.

Starts `r2v serve` on loopback with the spec's default rate limits and several API keys, then runs N
keep-alive clients (spread over the keys) for `--seconds`. Each client mixes: create (20%), query one of its
tasks (45%), cancel one of its tasks (10%), list (10%), download a finished video (15%). Reports throughput,
latency percentiles, answers by status and error code, tasks finished, and the server's memory (server plus
workers, RSS) before and after; a growth far beyond the task rows and logs would point at a leak.

    python benchmarks/soak.py [--clients 32] [--keys 8] [--seconds 60] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.api_load import create_body  # noqa: E402
from benchmarks.rawhttp import RawClient  # noqa: E402
from tests.helpers import ServerProcess  # noqa: E402

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
JSON_HEADERS = "X-DashScope-Async: enable\r\nContent-Type: application/json\r\n"


def _rss_mb(pid: int) -> tuple[float, float]:
    """(the API server process, its workers and their children) resident memory in MB."""
    root = psutil.Process(pid)
    children = sum(p.memory_info().rss for p in root.children(recursive=True))
    return root.memory_info().rss / 2**20, children / 2**20


class Tally:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.answers: Counter = Counter()
        self.downloaded_bytes = 0

    def record(self, action: str, seconds: float, status: int, body: bytes) -> None:
        self.latencies.setdefault(action, []).append(seconds)
        code = ""
        if status >= 400:
            try:
                code = json.loads(body).get("code", "")
            except ValueError:
                code = "not-json"
        self.answers[(status, code)] += 1


async def _client(n: int, port: int, key: str, body: bytes, stop_at: float, tally: Tally) -> None:
    rng = random.Random(n)
    client = RawClient(port, key)
    await client.connect()
    mine: list[str] = []
    videos: list[str] = []
    try:
        while time.perf_counter() < stop_at:
            roll = rng.random()
            if roll < 0.20 or not mine:
                action, method, path, payload, headers = "create", "POST", CREATE, body, JSON_HEADERS
            elif roll < 0.65:
                action, method, path, payload, headers = "query", "GET", f"/api/v1/tasks/{rng.choice(mine)}", b"", ""
            elif roll < 0.75:
                action, method, path = "cancel", "POST", f"/api/v1/tasks/{rng.choice(mine)}/cancel"
                payload, headers = b"", ""
            elif roll < 0.85:
                action, method, path, payload, headers = "list", "GET", "/api/v1/tasks?page_size=20", b"", ""
            elif videos:
                action, method, path, payload, headers = "download", "GET", rng.choice(videos), b"", ""
            else:
                continue
            started = time.perf_counter()
            status, answer = await client.request(method, path, payload, headers)
            tally.record(action, time.perf_counter() - started, status, answer)
            if status == 200 and action == "create":
                mine.append(json.loads(answer)["output"]["task_id"])
            elif status == 200 and action == "query":
                output = json.loads(answer)["output"]
                if output.get("video_url"):
                    url = urlsplit(output["video_url"])
                    videos.append(f"{url.path}?{url.query}")
            elif status == 200 and action == "download":
                tally.downloaded_bytes += len(answer)
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--keys", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate-limits", default="", help="R2V_RATE_LIMITS for the server (default: the spec's)")
    args = parser.parse_args()

    from r2v.demo.assets import make_guide_assets
    from tests.helpers import MediaServer

    keys = [f"sk-soak-{i}" for i in range(args.keys)]
    with tempfile.TemporaryDirectory() as tmp:
        assets = make_guide_assets(Path(tmp) / "assets")
        media = MediaServer(assets["girl"].parent)
        env = {"R2V_RATE_LIMITS": args.rate_limits}
        server = ServerProcess(Path(tmp) / "data", ",".join(keys), workers=args.workers, env=env).start()
        try:
            time.sleep(1.0)
            before = _rss_mb(server.proc.pid)
            tally = Tally()
            stop_at = time.perf_counter() + args.seconds
            body = create_body(media.url("girl.png"))

            async def run_all() -> None:
                await asyncio.gather(*(_client(n, server.port, keys[n % len(keys)], body, stop_at, tally)
                                       for n in range(args.clients)))  # fmt: skip

            began = time.perf_counter()
            asyncio.run(run_all())
            elapsed = time.perf_counter() - began
            after = _rss_mb(server.proc.pid)
            healthy = server.proc.poll() is None
        finally:
            server.stop()
            media.close()

    total = sum(len(v) for v in tally.latencies.values())
    print(f"machine: {os.cpu_count()} cores; {args.clients} clients over {args.keys} keys; {elapsed:.0f} s; "
          f"{args.workers} render worker(s); rate limits: {args.rate_limits or 'the spec defaults'}")  # fmt: skip
    print(f"requests: {total} ({total / elapsed:.0f}/s); downloaded {tally.downloaded_bytes / 2**20:.0f} MB")
    for action, values in sorted(tally.latencies.items()):
        values.sort()
        p50, p99 = values[len(values) // 2], values[int(len(values) * 0.99)]
        print(f"  {action:8s} {len(values):7d}  p50 {1000 * p50:6.1f} ms  p99 {1000 * p99:6.1f} ms")
    print("answers by status and code:")
    for (status, code), count in sorted(tally.answers.items()):
        print(f"  {status} {code or '-':28s} {count}")
    print(f"memory (RSS): API process {before[0]:.0f} MB before, {after[0]:.0f} MB after; "
          f"workers {before[1]:.0f} MB before, {after[1]:.0f} MB after")  # fmt: skip
    server_errors = sum(count for (status, _), count in tally.answers.items() if status >= 500)
    print(f"server alive at the end: {healthy}; 5xx answers: {server_errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
