"""The `r2v` command: serve, worker, db upgrade, keys create/list/revoke, generate, wan make-tiny."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from r2v.protocol.catalog import DEFAULT_REGION, REGIONS

DEFAULT_DATA_DIR = os.environ.get("R2V_DATA_DIR", ".r2v-data")
# On SIGTERM/SIGINT, requests in flight get this long to finish (an upload on a slow link) before they are cut.
SHUTDOWN_GRACE_S = 30


def _serve(args: argparse.Namespace) -> int:
    from r2v.config import Settings
    from r2v.wiring import build, check_locations, is_cluster

    scratch_home = None  # --emulate without --data-dir: a temporary data dir, removed when the server stops
    if args.emulate and args.data_dir is None:
        scratch_home = Path(tempfile.mkdtemp(prefix="r2v-emulator-"))
    settings = Settings(
        data_dir=Path(args.data_dir or scratch_home or DEFAULT_DATA_DIR),
        host=args.host,
        port=args.port,
        workers=1 if args.workers is None else args.workers,
        region=args.region,
        public_url=args.public_url,
        **_backend_settings(args),
        **_engine_settings(args),
    )
    if args.workers is None and is_cluster(settings):
        settings.workers = 0  # the cluster's renders run in `r2v worker` processes
    if args.emulate:
        if is_cluster(settings):
            raise ValueError("--emulate runs on the embedded SQLite database; leave out --database postgresql://…")
        try:
            return _serve_emulated(build(settings))
        finally:
            if scratch_home is not None:
                shutil.rmtree(scratch_home, ignore_errors=True)
    check_locations(settings)
    problem = _engine_problem(settings) if settings.workers else None
    if problem:
        print(f"r2v: {problem}", file=sys.stderr)
        return 2
    parts = build(settings)
    if not parts.keys.has_any():
        logging.getLogger("r2v").warning(
            "no API key: create one with `r2v keys create --name NAME` or set R2V_API_KEYS"
        )
    return _serve_cluster(parts) if is_cluster(settings) else _serve_embedded(parts)


def _serve_embedded(parts) -> int:
    """One machine: the API, its render worker processes and the janitor, on SQLite and local files."""
    from r2v.wiring import build_app, janitor_for, worker_pool

    settings, log = parts.settings, logging.getLogger("r2v")
    # Crash recovery: whatever was RUNNING when the last server died has no worker now; run it again.
    recovered = parts.tasks.requeue_running(parts.clock.now_ms())
    if recovered:
        log.warning("recovered %d task(s) interrupted by the last shutdown", recovered)
    # What renders and writes the last shutdown interrupted left behind (no worker runs yet).
    shutil.rmtree(settings.scratch_dir, ignore_errors=True)
    parts.blobs.remove_partial_writes()
    pool = worker_pool(parts)
    janitor = janitor_for(parts)
    server = _http_server(build_app(parts, workers_alive=pool.alive), settings)
    try:
        pool.start()
        janitor.start()
        print(f"r2v serving on http://{settings.host}:{settings.port} (data: {settings.data_dir})", flush=True)
        server.run()
    finally:
        janitor.stop()
        interrupted = pool.stop()
        log.info("stopped: the workers (%d render(s) interrupted, their tasks queued again) and the janitor",
                 interrupted)  # fmt: skip
    return 0


def _serve_emulated(parts) -> int:
    """`r2v serve --emulate`: the embedded server whose tasks play out as X-R2V-Scenario and the rules say, at
    once, with spec-exact videos from the emulated engine (api/emulator.py, worker/emulated.py)."""
    from r2v.config import EMULATOR_API_KEY
    from r2v.keys import AnyKey
    from r2v.wiring import build_app, emulation, janitor_for

    settings = parts.settings
    shutil.rmtree(settings.scratch_dir, ignore_errors=True)
    parts.blobs.remove_partial_writes()
    open_door = not parts.keys.has_any()
    if open_door:  # no key configured: any key is accepted, each its own tenant (apps' tests hold dummy keys)
        parts.keys = AnyKey(parts.keys)
    service, workers = emulation(parts)
    janitor = janitor_for(parts)
    server = _http_server(build_app(parts, workers_alive=workers.alive, emulation=(service, workers)), settings)
    try:
        workers.start()
        janitor.start()
        keys = f"any, e.g. {EMULATOR_API_KEY}" if open_door else "$R2V_API_KEYS and the stored keys"
        print(f"r2v emulator on http://{settings.host}:{settings.port}/api/v1 (API key: {keys}; "
              f"data: {settings.data_dir})", flush=True)  # fmt: skip
        server.run()
    finally:
        janitor.stop()
        workers.stop()
    return 0


def _serve_cluster(parts) -> int:
    """One stateless API process of a cluster. Nothing here is recovered or cleaned at start: other processes are
    at work on the same database and bucket. It takes part in the cluster's upkeep (retention, the recovery of
    dead workers' tasks), which the queue runs once for the whole cluster, whichever process gets it."""
    import threading

    from r2v.wiring import build_app, upkeep_queue

    settings = parts.settings
    queue, upkeep = upkeep_queue(parts)
    upkeeper = threading.Thread(target=queue.serve, args=(None, upkeep, 0), name="r2v-upkeep", daemon=True)
    server = _http_server(build_app(parts), settings)
    try:
        upkeeper.start()
        print(f"r2v serving on http://{settings.host}:{settings.port} (cluster API; renders run in `r2v worker`)",
              flush=True)  # fmt: skip
        server.run()
    finally:
        queue.stop()
        upkeeper.join(timeout=15)
    return 0


def _http_server(app, settings):
    import uvicorn

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S)  # fmt: skip
    server = uvicorn.Server(config)
    # SIGTERM and SIGINT go to uvicorn's own handler, which stops the server gracefully: the listening socket
    # closes, requests in flight finish, then serve() returns. It then re-raises the signal to its previous
    # handler, which would kill the process before the workers and the janitor are stopped; that previous
    # handler is uvicorn's too (installed here), so the re-raised signal only asks again for what is done.
    # Installed before anything starts, so a signal during startup also stops the server gracefully.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)
    return server


def _worker(args: argparse.Namespace) -> int:
    """`r2v worker`: renders the cluster's tasks on this machine until SIGTERM/SIGINT; the renders in progress are
    handed back to the queue (another worker takes them) without using up an attempt."""
    from r2v.config import Settings
    from r2v.wiring import check_locations, cluster_worker, is_cluster

    if args.concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    settings = Settings(data_dir=Path(args.data_dir), workers=0, **_backend_settings(args), **_engine_settings(args))
    if not is_cluster(settings):
        raise ValueError("--database: `r2v worker` runs on a PostgreSQL database (postgresql://…); the embedded "
                         "SQLite server runs its own workers (`r2v serve --workers N`)")  # fmt: skip
    check_locations(settings)
    problem = _engine_problem(settings)
    if problem:
        print(f"r2v: {problem}", file=sys.stderr)
        return 2
    from r2v.metrics import WorkerMetrics

    metrics = WorkerMetrics()
    worker = cluster_worker(settings, args.concurrency, metrics)
    server = None
    if args.metrics_port is not None:
        server = metrics.serve(args.metrics_port, health=lambda: _database_health(worker.runner.store))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    print(f"r2v worker {worker.name}: {args.concurrency} render(s) at once", flush=True)
    try:
        worker.run()
    finally:
        if server is not None:
            server.stop()
    logging.getLogger("r2v").info("worker stopped")
    return worker.exit_code


def _database_health(store) -> tuple[bool, str]:
    try:
        store.check()
    except Exception as exc:  # noqa: BLE001 - health answers, it does not raise
        return False, f"database: {exc}"
    return True, "ok"


def _db_upgrade(args: argparse.Namespace) -> int:
    from r2v.wiring import upgrade_database

    url = args.database or os.environ.get("R2V_DATABASE_URL")
    if not url:
        raise ValueError("--database: required (postgresql://USER@HOST/DB, or $R2V_DATABASE_URL)")
    before, after = upgrade_database(url)
    print(f"database schema at version {after}" + (f" (was {before})" if before != after else " (already current)"))
    return 0


def _backend_settings(args: argparse.Namespace) -> dict:
    """Settings fields from --database and --storage (unset: R2V_DATABASE_URL, R2V_STORAGE_URL, else the data dir)."""
    return {name: value for name, value in (("database_url", args.database), ("storage_url", args.storage)) if value}


def _engine_settings(args: argparse.Namespace) -> dict:
    """Settings fields from the engine flags: --engine for every model, --wan-* for the wan engine."""
    from dataclasses import replace

    from r2v.config import _engine_map, wan_options_from_env

    wan = wan_options_from_env()
    changes = {"model_dir": Path(args.wan_model_dir) if args.wan_model_dir else None, "steps": args.wan_steps,
               "shift": args.wan_shift, "resolution": args.wan_resolution}  # fmt: skip
    wan = replace(wan, **{k: v for k, v in changes.items() if v is not None})
    return {"engines": _engine_map(args.engine), "wan": wan}


def _engine_problem(settings) -> str | None:
    """What keeps the configured engines from starting (checked before anything runs), or None."""
    from importlib.util import find_spec

    from r2v.engines import ENGINE_NAMES

    for model, engine in settings.engines.items():
        if engine not in ENGINE_NAMES:
            return f"unknown engine {engine!r} for {model}; available: {', '.join(ENGINE_NAMES)}"
    if "wan" in settings.engines.values():
        from r2v.wan_folder import ModelFolderError, check_folder

        try:
            check_folder(settings.wan.model_dir)
        except ModelFolderError as exc:
            return str(exc)
        if find_spec("diffusers") is None or find_spec("torch") is None:  # looked up, not imported (seconds)
            return "the wan engine needs its extra: pip install 'r2v[wan]' (torch, diffusers, transformers)"
    return None


def _wan_make_tiny(args: argparse.Namespace) -> int:
    from r2v.engines.wan.tiny import make_tiny

    folder = make_tiny(Path(args.folder), two_experts=args.two_experts)
    print(f"tiny random Wan VACE pipeline written to {folder} (it makes noise: for tests and trying the path)")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    keys, clock = _key_store(args)
    key_id, key = keys.create(args.name, clock.now_ms())
    print(key)
    print(f"(key id {key_id}; the key is shown only this once)", file=sys.stderr)
    return 0


def _key_store(args: argparse.Namespace):
    """The key store of the server whose --data-dir/--database these are: keys live with its tasks."""
    from r2v.config import Settings
    from r2v.wiring import build, check_locations

    settings = Settings(data_dir=Path(args.data_dir), **_backend_settings(args))
    check_locations(settings)
    parts = build(settings)
    return parts.keys, parts.clock


def _keys_list(args: argparse.Namespace) -> int:
    keys, _ = _key_store(args)
    listed = keys.list()
    if args.json:
        print(json.dumps([vars(info) for info in listed], ensure_ascii=False))
        return 0
    if not listed:
        print("no stored keys (keys given in R2V_API_KEYS are not stored, and not listed)", file=sys.stderr)
        return 0
    rows = [("ID", "NAME", "CREATED", "STATUS")]
    for info in listed:
        status = "active" if info.revoked_ms is None else f"revoked {_utc(info.revoked_ms)}"
        rows.append((info.key_id, info.name, _utc(info.created_ms), status))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3])
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    keys, clock = _key_store(args)
    info = keys.revoke(args.key_id, clock.now_ms())
    if info is None:
        raise ValueError(f"keys revoke: no stored key has the id {args.key_id!r} (`r2v keys list` shows them)")
    print(f"key {info.key_id} ({info.name}) revoked {_utc(info.revoked_ms)}: refused from now on")
    return 0


def _utc(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _generate(args: argparse.Namespace) -> int:
    """The server's pipeline without a server: a create-call body in, an MP4 out."""
    from tqdm import tqdm

    from r2v.clock import Clock
    from r2v.config import Settings
    from r2v.engines import EngineSet
    from r2v.errors import ApiError, TaskFailure
    from r2v.media.fetch import MediaResolver
    from r2v.protocol.validate import parse_create
    from r2v.service.tasks import save_inline_inputs
    from r2v.wiring import build_moderator, job_rules, open_storage
    from r2v.worker.pipeline import run_job

    body = json.loads(Path(args.request).read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="r2v-generate-"))
    try:
        parsed = parse_create(body, region=args.region, oss_resolve=True, allow_local_paths=True)
        spec = parsed.spec
        blobs = open_storage((work / "files").as_uri())
        save_inline_inputs(parsed, blobs, "cli")  # data: URIs become files, as on the server
        for ref in spec.media:  # local paths become file:// URLs, which only this CLI's resolver accepts
            if ref.field in parsed.local_paths:
                ref.url = Path(parsed.local_paths[ref.field]).as_uri()
            if ref.voice_field in parsed.local_paths:
                ref.voice_url = Path(parsed.local_paths[ref.voice_field]).as_uri()
        settings = Settings(data_dir=work, region=args.region, **_engine_settings(args))
        problem = _engine_problem(settings)
        if problem:
            print(f"r2v: {problem}", file=sys.stderr)
            return 2
        resolver = MediaResolver(
            blobs=blobs,
            uploads=None,  # no server, no uploads: oss:// URLs cannot be used here
            owner="cli",
            now_ms=Clock().now_ms(),
            policy=settings.fetch_policy(),
            allow_local_files=True,
        )
        engine = EngineSet(settings.engines, wan=settings.wan).for_model(spec.model)
        with tqdm(total=100, unit="%", desc="rendering", disable=args.quiet) as bar:

            def progress(fraction: float) -> None:
                bar.update(max(0, int(fraction * 100) - bar.n))

            rules = job_rules(settings, build_moderator(settings))
            outcome = run_job("cli", spec, resolver, blobs, settings.scratch_dir, engine, progress, rules)
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        blobs.fetch(outcome.result_name, out)  # replaces a file already there
    except (ApiError, TaskFailure) as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"video": str(out.resolve()), "usage": outcome.usage}, ensure_ascii=False))
    return 0


def _backend_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=None, metavar="URL",
                        help="where tasks, keys and uploads are kept: sqlite:///FILE or postgresql://USER@HOST/DB "
                             "(default: $R2V_DATABASE_URL, else sqlite:///DATA-DIR/r2v.sqlite3)")  # fmt: skip
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="where uploads and results are kept: file:///DIR or s3://BUCKET/PREFIX, with the "
                             "endpoint and credentials from the AWS variables (default: $R2V_STORAGE_URL, else "
                             "file:///DATA-DIR/files)")  # fmt: skip


def _engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default=None, help="engine for every model: animatic, wan, reel; R2V_ENGINES="
                        "model=engine,... still sets single models (default: $R2V_ENGINE, else animatic)")  # fmt: skip
    parser.add_argument("--wan-model-dir", default=None, metavar="DIR",
                        help="a Wan VACE diffusers folder (default: $R2V_WAN_MODEL_DIR)")  # fmt: skip
    parser.add_argument(
        "--wan-steps", type=int, default=None, help="denoising steps (default: $R2V_WAN_STEPS, else 30)"
    )
    parser.add_argument(
        "--wan-shift",
        type=float,
        default=None,
        help="scheduler flow shift (default: $R2V_WAN_SHIFT, else the folder's)",
    )
    parser.add_argument(
        "--wan-resolution",
        default=None,
        help="native size: 480P, 720P or WxH (default: $R2V_WAN_RESOLUTION, else the folder's r2v.json, else 480P)",
    )


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default: its value, or, where the value is decided later (None: an environment
    variable, another flag), the help's own "(default: ...)" words. Flags that are off unless given show none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "(default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """r2v's parsers; subcommands are made of the same class (argparse's default), so every --help shows defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpWithDefaults)
        super().__init__(*args, **kwargs)


def _version() -> str:
    from importlib.metadata import version

    return version("r2v")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="r2v", description="Self-hosted, DashScope-compatible reference-to-video")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the embedded server (SQLite, local files, animatic engine)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--data-dir", default=None, metavar="DIR",
                       help="tasks, API keys, uploads and results of this server, unless --database/--storage "
                            "put them elsewhere (default: $R2V_DATA_DIR, else .r2v-data; with "
                            "--emulate a temporary folder, removed at exit)")  # fmt: skip
    serve.add_argument("--workers", type=int, default=None,
                       help="render worker processes (default: 1; with a PostgreSQL database 0, its renders run in "
                            "`r2v worker`)")  # fmt: skip
    serve.add_argument("--region", default=DEFAULT_REGION, choices=REGIONS, help="the DashScope region served")
    serve.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="base URL for video_url and upload_host (default: the Host each client used)",
    )
    serve.add_argument("--emulate", action="store_true",
                       help="emulator mode for apps' own tests: instant, deterministic tasks scripted by the "
                            "X-R2V-Scenario header and /r2v/emulator/rules, with a request recorder; with no key "
                            "configured ($R2V_API_KEYS, `r2v keys create`), any API key is accepted")  # fmt: skip
    _backend_flags(serve)
    _engine_flags(serve)
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="render the tasks of a multi-machine cluster (PostgreSQL + S3)")
    worker.add_argument("--concurrency", type=int, default=1, help="renders at once on this machine")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve /metrics and /healthz on this port (default: none)")  # fmt: skip
    worker.add_argument("--data-dir", default=DEFAULT_DATA_DIR, metavar="DIR",
                        help="local scratch room for renders in progress")  # fmt: skip
    _backend_flags(worker)
    _engine_flags(worker)
    worker.set_defaults(func=_worker)

    db = sub.add_parser("db", help="manage the PostgreSQL database of a cluster")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema (r2v's and procrastinate's)")
    upgrade.add_argument("--database", default=None, metavar="URL", help="postgresql://USER@HOST/DB "
                         "(default: $R2V_DATABASE_URL)")  # fmt: skip
    upgrade.set_defaults(func=_db_upgrade)

    keys = sub.add_parser("keys", help="manage the API keys of a server (they live in its data dir or database)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key and print it once")
    create.add_argument("--name", required=True, help="what the key is for (shown by `keys list`)")
    listing = keys_sub.add_parser("list", help="the stored keys: id, name, created, revoked or not (never the key)")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    revoke = keys_sub.add_parser("revoke", help="refuse a key from now on, in every process of the server")
    revoke.add_argument("key_id", metavar="ID", help="the key's id, as `keys list` shows it")
    for command, run in ((create, _keys_create), (listing, _keys_list), (revoke, _keys_revoke)):
        command.add_argument(
            "--data-dir",
            default=DEFAULT_DATA_DIR,
            metavar="DIR",
            help="the data dir of the server whose keys these are: its `serve --data-dir`",
        )
        _backend_flags(command)
        command.set_defaults(func=run)

    generate = sub.add_parser("generate", help="render one request (a create-call body) without a server")
    generate.add_argument("request", help="JSON file: the body of a create call; URLs may be local paths")
    generate.add_argument("-o", "--output", required=True, help="the MP4 file to write")
    generate.add_argument("--region", default=DEFAULT_REGION, choices=REGIONS, help="the region whose models to use")
    generate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _engine_flags(generate)
    generate.set_defaults(func=_generate)

    wan = sub.add_parser("wan", help="the wan engine's tools")
    wan_sub = wan.add_subparsers(dest="wan_command", required=True)
    tiny = wan_sub.add_parser("make-tiny", help="write a tiny random Wan VACE folder (offline; for tests)")
    tiny.add_argument("folder", help="the folder to write (made if missing)")
    tiny.add_argument("--two-experts", action="store_true", help="Wan2.2 style: a second, low-noise transformer")
    tiny.set_defaults(func=_wan_make_tiny)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    from r2v.errors import BackendUnavailable

    try:
        return args.func(args)
    except ValueError as exc:  # a bad setting (flag or environment variable): say which, no traceback
        parser.exit(2, f"r2v: error: {exc}\n")
    except BackendUnavailable as exc:  # the database or the object store cannot be reached at start
        parser.exit(2, f"r2v: error: {exc}\n")
