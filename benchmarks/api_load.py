"""API throughput and latency on loopback while a render runs.

Starts `r2v serve` (1 render worker), keeps a 1080P render running, then drives the API with N concurrent
keep-alive clients for a bounded time: first task queries, then task creation. Reports requests/s, p50/p99
latency and errors per phase, and checks that a render was running during the measurement.

    python benchmarks/api_load.py [--clients 32] [--seconds 10] [--runs 3]

Target (issue 2): on a 2-core machine, at least 1000 queries/s with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.rawhttp import RawClient  # noqa: E402
from tests.helpers import ServerProcess  # noqa: E402

KEY = "sk-bench"
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


async def _phase(port: int, clients: int, seconds: float, make_request) -> dict:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds

    async def one_client(n: int) -> None:
        client = RawClient(port, KEY)
        await client.connect()
        i = n
        while time.perf_counter() < stop_at:
            method, path, body, headers = make_request(i)
            started = time.perf_counter()
            status, _ = await client.request(method, path, body, headers)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
            i += clients
        client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client(n) for n in range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def create_body(media_url: str, resolution: str = "720P", duration: int = 2) -> bytes:
    return json.dumps({"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": media_url}]}, "parameters": {"resolution": resolution, "duration": duration}}
    ).encode()  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from r2v.demo.assets import make_guide_assets
    from tests.helpers import MediaServer

    with tempfile.TemporaryDirectory() as tmp:
        assets = make_guide_assets(Path(tmp) / "assets")
        media = MediaServer(assets["girl"].parent)
        server = ServerProcess(Path(tmp) / "data", KEY, workers=1).start()
        headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
        try:
            # Long renders queued first, so that one is always running while we measure.
            long_body = create_body(media.url("room.png"), "1080P", 10)
            for _ in range(12):
                httpx.post(server.base + CREATE, content=long_body, headers=headers)
            ids = [httpx.post(server.base + CREATE, content=create_body(media.url("girl.png")), headers=headers)
                   .json()["output"]["task_id"] for _ in range(200)]  # fmt: skip
            time.sleep(1.0)

            def running() -> int:
                listed = httpx.get(server.base + "/api/v1/tasks?status=RUNNING", headers=headers).json()
                return listed["total"]

            def query(i):
                return "GET", f"/api/v1/tasks/{ids[i % len(ids)]}", b"", ""

            girl_body = create_body(media.url("girl.png"))

            def create(i):
                return "POST", CREATE, girl_body, "X-DashScope-Async: enable\r\nContent-Type: application/json\r\n"

            results = {"query": [], "create": []}
            for run in range(args.runs):
                for name, make in (("query", query), ("create", create)):
                    before = running()
                    stats = asyncio.run(_phase(server.port, args.clients, args.seconds, make))
                    stats["render_running"] = before >= 1 and running() >= 1
                    results[name].append(stats)
                    print(f"run {run + 1} {name:6s}: {stats['per_second']:7.0f} req/s  p50 {stats['p50_ms']:5.1f} ms  "
                          f"p99 {stats['p99_ms']:5.1f} ms  errors {stats['errors']}  render running: "
                          f"{stats['render_running']}", flush=True)  # fmt: skip
        finally:
            server.stop()
            media.close()

    print(
        f"\nmachine: {os.cpu_count()} cores; {args.clients} clients; "
        f"{args.seconds:.0f} s per phase; median of {args.runs}"
    )
    for name, runs in results.items():
        print(f"{name:6s}: {statistics.median(r['per_second'] for r in runs):7.0f} req/s  "
              f"p50 {statistics.median(r['p50_ms'] for r in runs):5.1f} ms  "
              f"p99 {statistics.median(r['p99_ms'] for r in runs):5.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
