"""Multi-machine mode on one machine: render throughput by worker count, and task queries on PostgreSQL vs SQLite.

1. Throughput. A fresh PostgreSQL database and S3 bucket (SeaweedFS) per worker count, one stateless API process
   (`r2v serve --database postgresql://... --storage s3://... --workers 0`) and N `r2v worker --concurrency 1`
   processes. The cheapest real render (wan2.7-r2v, 720P, 2 s, one reference image) on the default animatic
   engine (`--engine reel` is no faster here: 1.4-1.9 s a task against 1.1-1.5 s, alone). After one untimed task
   per worker, a batch is created through the API and timed from the first create to the moment the API lists the
   whole batch SUCCEEDED (polled every 0.1 s); median of the repeats.
2. Task queries. GET /api/v1/tasks/{id} with benchmarks/api_load.py's load generator (N keep-alive clients, one
   key, rate limits off), on the embedded server (`r2v serve`: SQLite, local files) beside one cluster API process
   (PostgreSQL, S3), each with one worker kept busy by 1080P renders, as in api_load.py. Each holds the same tasks:
   some SUCCEEDED (their answer carries a signed video_url: r2v's own signed URL on local files, a presigned S3 GET on
   the cluster) and many PENDING behind the renders; each kind is measured apart.

    python benchmarks/scale.py [--workers 1,2,4] [--batch 16] [--repeats 3] [--clients 32] [--seconds 10] [--runs 3]

Measured on a 2-core, 24 GiB machine with no GPU, nothing else running (defaults; PostgreSQL and SeaweedFS on
the same 2 cores; 5.5 minutes in all):

    workers  tasks/min  batch of 16 (s)  speed-up  batches (s)
          1       41.6             23.1     1.00x  23.1, 23.6, 21.4
          2       71.4             13.5     1.71x  13.5, 13.1, 14.2
          4       81.3             11.8     1.95x  10.8, 12.3, 11.8   (2 cores: no more compute than 2 workers)

    GET /api/v1/tasks/{id}, 32 clients   req/s  p50 ms  p99 ms   (median of 3 x 10 s, a 1080P render running)
    SQLite (r2v serve)     SUCCEEDED      1730    15.4    62.3
    SQLite (r2v serve)     PENDING        2103    12.3    62.7
    PostgreSQL + S3 (API)  SUCCEEDED       714    39.6   144.3   (each answer presigns an S3 GET)
    PostgreSQL + S3 (API)  PENDING        1360    19.6   106.8

api_load.py gave 1750 queries/s on the same machine the same hour (the README's 3445 came from an earlier one).
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
from benchmarks.api_load import _phase  # noqa: E402
from tests.helpers import MediaServer, ServerProcess  # noqa: E402

KEY = "sk-bench"
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
POLL_S = 0.1


def _body(url: str, seed: int, resolution: str = "720P", duration: int = 2) -> bytes:
    return json.dumps({"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": url}]}, "parameters": {"resolution": resolution, "duration": duration,
        "seed": seed}}).encode()  # fmt: skip


def _create(client: httpx.Client, base: str, url: str, seed: int, body: bytes | None = None) -> str:
    """A task (by default the cheapest render; a seed each, so that no two are alike); its id."""
    body = body or _body(url, seed)
    answer = client.post(base + CREATE, content=body, headers={**HEADERS, "Content-Type": "application/json"})
    if answer.status_code != 200:
        raise RuntimeError(f"create answered {answer.status_code}: {answer.text}")
    return answer.json()["output"]["task_id"]


def _total(client: httpx.Client, base: str, status: str) -> int:
    answer = client.get(base + "/api/v1/tasks", params={"status": status, "page_size": 1}, headers=HEADERS)
    return answer.json()["total"]


def _run_batch(client: httpx.Client, base: str, url: str, count: int, first_seed: int, timeout_s: float) -> float:
    """Seconds from the first create of `count` tasks to the poll that finds them all SUCCEEDED."""
    done_before = _total(client, base, "SUCCEEDED")
    started = time.perf_counter()
    for i in range(count):
        _create(client, base, url, first_seed + i)
    while time.perf_counter() - started < timeout_s:
        if _total(client, base, "SUCCEEDED") >= done_before + count:
            return time.perf_counter() - started
        if _total(client, base, "FAILED"):
            raise RuntimeError("a task FAILED; see the worker logs")
        time.sleep(POLL_S)
    raise RuntimeError(f"a batch of {count} did not finish in {timeout_s:.0f} s")


def throughput(args, s3, media_url: str, root: Path) -> list[dict]:
    from tests.cluster import Cluster

    rows, seed = [], 1
    for workers in args.workers:
        cluster = Cluster(root / f"w{workers}", f"s3://{s3.new_bucket()}/r2v", s3.env(), KEY)
        try:
            api = cluster.add_api()
            for _ in range(workers):
                cluster.add_worker(1)
            with httpx.Client(timeout=30) as client:
                _run_batch(client, api.base, media_url, workers, seed, args.timeout)  # warm-up: untimed
                seed += workers
                times = []
                for run in range(args.repeats):
                    times.append(_run_batch(client, api.base, media_url, args.batch, seed, args.timeout))
                    seed += args.batch
                    print(f"{workers} worker(s), run {run + 1}: {args.batch} tasks in {times[-1]:.1f} s "
                          f"({60 * args.batch / times[-1]:.1f} tasks/min)", flush=True)  # fmt: skip
        finally:
            cluster.stop()
        rows.append({"workers": workers, "seconds": statistics.median(times), "all": times})
    return rows


def _fill(args, base: str, media_url: str) -> dict[str, list[str]]:
    """The tasks to query: `--done-tasks` rendered to SUCCEEDED; then long renders queued to keep the worker busy
    through the measurement, and behind them `--pending-tasks` that stay PENDING. Their ids by status."""
    with httpx.Client(timeout=30) as client:
        done = [_create(client, base, media_url, 10_000 + i) for i in range(args.done_tasks)]
        deadline = time.monotonic() + args.timeout
        while _total(client, base, "SUCCEEDED") < args.done_tasks:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SUCCEEDED tasks to query did not finish in {args.timeout:.0f} s")
            time.sleep(POLL_S)
        # A 1080P 10 s render takes about 4 s here, alone: a few more than the measurement needs, at 3 s each.
        for i in range(int(args.runs * 2 * args.seconds / 3) + 4):
            _create(client, base, media_url, 30_000 + i, _body(media_url, 30_000 + i, "1080P", 10))
        pending = [_create(client, base, media_url, 20_000 + i) for i in range(args.pending_tasks)]
        while _total(client, base, "RUNNING") < 1:  # the worker takes its next job within a poll or so
            if time.monotonic() > deadline:
                raise RuntimeError("no long render started")
            time.sleep(POLL_S)
    return {"SUCCEEDED": done, "PENDING": pending}


def _measure_queries(args, port: int, base: str, ids: dict[str, list[str]], label: str) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {kind: [] for kind in ids}
    with httpx.Client(timeout=30) as client:
        for run in range(args.runs):
            for kind, chosen in ids.items():

                def query(i, chosen=chosen):
                    return "GET", f"/api/v1/tasks/{chosen[i % len(chosen)]}", b"", ""

                before = _total(client, base, "RUNNING")
                stats = asyncio.run(_phase(port, args.clients, args.seconds, query))
                stats["render_running"] = before >= 1 and _total(client, base, "RUNNING") >= 1
                results[kind].append(stats)
                print(f"{label}, {kind}, run {run + 1}: {stats['per_second']:6.0f} req/s  "
                      f"p50 {stats['p50_ms']:5.1f} ms  p99 {stats['p99_ms']:5.1f} ms  errors {stats['errors']}  "
                      f"render running: {stats['render_running']}", flush=True)  # fmt: skip
    return results


def queries(args, s3, media_url: str, root: Path) -> dict[str, dict[str, list[dict]]]:
    from tests.cluster import Cluster

    measured = {}
    server = ServerProcess(root / "sqlite", KEY, workers=1).start()
    try:
        ids = _fill(args, server.base, media_url)
        measured["SQLite (r2v serve)"] = _measure_queries(args, server.port, server.base, ids, "SQLite")
    finally:
        server.stop()
    cluster = Cluster(root / "pg", f"s3://{s3.new_bucket()}/r2v", s3.env(), KEY)
    try:
        api = cluster.add_api()
        cluster.add_worker(1)
        ids = _fill(args, api.base, media_url)
        measured["PostgreSQL + S3 (API)"] = _measure_queries(args, api.port, api.base, ids, "PostgreSQL")
    finally:
        cluster.stop()
    return measured


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated counts such as 1,2,4, not {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be 1 or more, not {text!r}")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=_counts, default=[1, 2, 4], help="worker counts to try (default 1,2,4)")
    parser.add_argument("--batch", type=int, default=16, help="tasks per timed batch (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches per worker count (default 3)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a batch may take (default 300)")
    parser.add_argument("--clients", type=int, default=32, help="query load: keep-alive clients (default 32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="query load: seconds per phase (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="query load: runs per store (default 3)")
    parser.add_argument("--done-tasks", type=int, default=8, help="SUCCEEDED tasks queried (default 8)")
    parser.add_argument("--pending-tasks", type=int, default=200, help="PENDING tasks queried (default 200)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args()

    from r2v.demo.assets import make_guide_assets
    from tests.s3server import S3Server

    began, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        assets = make_guide_assets(root / "assets")
        media = MediaServer(assets["girl"].parent)
        media_url = media.url(assets["girl"].name)
        s3 = S3Server(root / "s3").start()
        try:
            rows = [] if args.skip_throughput else throughput(args, s3, media_url, root)
            measured = {} if args.skip_queries else queries(args, s3, media_url, root)
        finally:
            ServerProcess.kill_all()
            s3.close()
            media.close()

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    # A load average near 1 or more before the start means something else runs beside us: the numbers are off.
    print(f"\nmachine: {os.cpu_count()} cores, {memory_gib:.0f} GiB; {time.perf_counter() - began:.0f} s in all; "
          f"1-min load average {load_before:.1f} at the start")  # fmt: skip
    if rows:
        print(f"\nrender throughput: wan2.7-r2v 720P 2 s, one image, animatic engine; one API process; "
              f"`r2v worker --concurrency 1` each; median of {args.repeats} batches of {args.batch}")  # fmt: skip
        print("workers  tasks/min  batch (s)  speed-up  all batches (s)")
        for row in rows:
            per_minute = 60 * args.batch / row["seconds"]
            print(f"{row['workers']:7d}  {per_minute:9.1f}  {row['seconds']:9.1f}  "
                  f"{rows[0]['seconds'] / row['seconds']:7.2f}x  "
                  f"{', '.join(f'{t:.1f}' for t in row['all'])}")  # fmt: skip
        if max(r["workers"] for r in rows) > (os.cpu_count() or 1):
            print(f"note: {os.cpu_count()} cores, shared with the API, PostgreSQL and SeaweedFS: more than "
                  f"{os.cpu_count()} workers add no compute and cannot scale; what they gain fills the moments a "
                  f"render leaves a core idle (job pickup, media fetch, S3 upload, database writes)")  # fmt: skip
    if measured:
        print(f"\nGET /api/v1/tasks/{{id}}: {args.clients} keep-alive clients, {args.seconds:.0f} s per phase, "
              f"while a 1080P render runs (as api_load.py); median of {args.runs}")  # fmt: skip
        print("store                   task        req/s  p50 ms  p99 ms  errors  render running")
        for store, kinds in measured.items():
            for kind, runs in kinds.items():
                errors = sum(sum(r["errors"].values()) for r in runs)
                print(f"{store:22s}  {kind:9s}  {statistics.median(r['per_second'] for r in runs):7.0f}  "
                      f"{statistics.median(r['p50_ms'] for r in runs):6.1f}  "
                      f"{statistics.median(r['p99_ms'] for r in runs):6.1f}  {errors:6d}  "
                      f"{all(r['render_running'] for r in runs)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
