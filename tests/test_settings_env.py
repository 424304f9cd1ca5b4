"""Every setting the README lists, set the way a user sets it (its environment variable or `r2v serve` flag),
and observed by what it changes: who may call, where downloads may go, how many requests pass, which limits
the worker processes run under, what the wan engine hands its pipeline. Settings() is built from the
environment exactly as `r2v serve` builds it; a real server runs where the promise is about processes."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from r2v.clock import FakeClock
from r2v.config import Settings, wan_options_from_env
from r2v.errors import TaskFailure
from r2v.media.fetch import download
from r2v.wiring import build, build_app, runner_for
from tests.conftest import KEY
from tests.helpers import ServerProcess, free_port, wait_status
from tests.hostile import HostileServer

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
FIELD = "input.media[0].url"
MB = 2**20


def _body(url: str, **parameters) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2, **parameters}}  # fmt: skip


def _client(tmp_path) -> tuple:
    """The API on Settings() from the environment, with an injected clock (in-process)."""
    parts = build(Settings(data_dir=tmp_path / "data"), FakeClock())
    return parts, TestClient(build_app(parts), base_url="http://r2v.test")


def _r2v(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r2v", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip


# -- who may call, where data lives --------------------------------------------------------------------------


@pytest.mark.http
def test_api_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("R2V_API_KEYS", "sk-env-one, sk-env-two")
    _, client = _client(tmp_path)
    for key in ("sk-env-one", "sk-env-two"):
        assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    refused = client.get("/api/v1/tasks", headers={"Authorization": "Bearer sk-env-three"})
    assert refused.status_code == 401 and refused.json()["code"] == "InvalidApiKey"


@pytest.mark.server
def test_data_dir_from_the_environment(tmp_path):
    """`r2v keys create` without --data-dir keeps its key where R2V_DATA_DIR says (and nothing in the cwd)."""
    done = _r2v("keys", "create", "--name", "from-env", env={"R2V_DATA_DIR": str(tmp_path / "elsewhere")},
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "elsewhere" / "r2v.sqlite3") as db:
        assert db.execute("SELECT name FROM api_keys").fetchall() == [("from-env",)]
    assert not (tmp_path / ".r2v-data").exists()


# -- where downloads may go ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loopback_media(assets):
    """The same folder served on 127.0.0.1 and on 127.0.0.2 (both loopback, so both private)."""
    root = assets["girl"].parent
    servers = {host: HostileServer(root, host=host) for host in ("127.0.0.1", "127.0.0.2")}
    yield servers
    for server in servers.values():
        server.close()


def _fetch(tmp_path, url: str) -> str:
    """Download `url` under the policy Settings() builds from the environment: "ok" or the failure message."""
    try:
        download(url, FIELD, tmp_path / "got", 10**7, Settings(data_dir=tmp_path / "d").fetch_policy())
    except TaskFailure as failure:
        assert failure.code == "BadRequest.InputDownloadFailed" and failure.message.startswith(FIELD + ": ")
        return failure.message
    return "ok"


@pytest.mark.http
def test_private_urls_from_the_environment(tmp_path, monkeypatch, loopback_media):
    one, two = loopback_media["127.0.0.1"].url("girl.png"), loopback_media["127.0.0.2"].url("girl.png")
    monkeypatch.delenv("R2V_ALLOW_PRIVATE_URLS", raising=False)
    assert "non-public address (127.0.0.1); refused" in _fetch(tmp_path, one)  # the default
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    assert _fetch(tmp_path, one) == _fetch(tmp_path, two) == "ok"
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "off")
    assert "non-public address" in _fetch(tmp_path, two)
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "10.1.0.0/16, 127.0.0.2/32")  # networks: only those
    assert _fetch(tmp_path, two) == "ok"
    assert "non-public address (127.0.0.1); refused" in _fetch(tmp_path, one)


@pytest.mark.http
def test_url_allow_hosts_from_the_environment(tmp_path, monkeypatch, loopback_media):
    port = loopback_media["127.0.0.1"].port
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("R2V_URL_ALLOW_HOSTS", "localhost")
    assert _fetch(tmp_path, f"http://localhost:{port}/girl.png") == "ok"
    assert "not in this server's allow-list" in _fetch(tmp_path, f"http://127.0.0.1:{port}/girl.png")
    monkeypatch.delenv("R2V_URL_ALLOW_HOSTS")
    assert _fetch(tmp_path, f"http://127.0.0.1:{port}/girl.png") == "ok"  # unset: any host


# -- rate limits ---------------------------------------------------------------------------------------------


@pytest.mark.http
def test_rate_limits_from_the_environment(tmp_path, monkeypatch, media):
    monkeypatch.setenv("R2V_API_KEYS", KEY)
    monkeypatch.setenv("R2V_RATE_LIMITS", "off")
    _, client = _client(tmp_path / "off")
    assert all(client.post(CREATE, json=_body(media.url("girl.png")), headers=HEADERS).status_code == 200
               for _ in range(12))  # fmt: skip
    assert all(client.get("/api/v1/tasks", headers=HEADERS).status_code == 200 for _ in range(40))

    monkeypatch.setenv("R2V_RATE_LIMITS", "submit=2, query=off")  # overrides; the rest keep the cloud's values
    _, client = _client(tmp_path / "overrides")
    creates = [client.post(CREATE, json=_body(media.url("girl.png")), headers=HEADERS) for _ in range(3)]
    assert [a.status_code for a in creates] == [200, 200, 429]
    task_id = creates[0].json()["output"]["task_id"]
    assert all(client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).status_code == 200 for _ in range(40))
    lists = [client.get("/api/v1/tasks", headers=HEADERS).status_code for _ in range(21)]
    assert lists == [200] * 20 + [429]  # list: still the cloud's 20/s


# -- worker processes ----------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
            if fields and int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _worker(server: ServerProcess) -> int:
    """The one render worker of a server (its other child is multiprocessing's resource tracker)."""
    workers = [c for c in _children(server.proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(workers) == 1, workers
    return workers[0]


def _address_space_limit(pid: int) -> int:
    (line,) = [row for row in Path(f"/proc/{pid}/limits").read_text().splitlines() if row.startswith("Max address")]
    return int(re.split(r"\s{2,}", line)[1])


def _run_task(server: ServerProcess, body: dict) -> dict:
    task_id = httpx.post(server.api + CREATE[len("/api/v1") :], json=body, headers=HEADERS).json()["output"]["task_id"]
    return wait_status(lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=HEADERS).json()["output"],
                       {"SUCCEEDED", "FAILED"})  # fmt: skip


@pytest.mark.server
def test_worker_memory_limit_from_the_environment(tmp_path, media):
    """R2V_WORKER_MEMORY_MB is the address-space limit of each worker process, exactly. 1024 MB holds a warm
    worker (about 830 MB here) but not a 720P render (about 1300 MB at its peak): the task fails cleanly, the
    worker and the server carry on. The same request on the same data with the default limit succeeds."""
    data, body = tmp_path / "data", _body(media.url("girl.png"))
    server = ServerProcess(data, KEY, workers=1, env={"R2V_WORKER_MEMORY_MB": "1024"}).start()
    try:
        output = _run_task(server, body)
        worker = _worker(server)  # asked after a task ran: the worker set its limit before it claimed one
        assert _address_space_limit(worker) == 1024 * MB
        assert output["task_status"] == "FAILED" and output["code"] == "InternalError", output
        assert httpx.get(server.base + "/healthz").json()["workers"] == 1
        assert _worker(server) == worker  # failed cleanly: no crash, no replacement
        assert httpx.get(server.api + "/tasks", headers=HEADERS).json()["total"] == 1  # the API still answers
    finally:
        server.stop()
    server = ServerProcess(data, KEY, workers=1).start()
    try:
        output = _run_task(server, body)
        assert _address_space_limit(_worker(server)) == 16384 * MB  # the README's default
        assert output["task_status"] == "SUCCEEDED", output
    finally:
        server.stop()


# -- the flags of `r2v serve` ----------------------------------------------------------------------------------


class _ServerOn(ServerProcess):
    """A server bound with --host to another loopback address."""

    host = "127.0.0.2"

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.mark.server
def test_serve_flags(tmp_path):
    """--host, --port, --workers, --region, --public-url and --data-dir, each observed on the running server."""
    server = _ServerOn(tmp_path / "data", KEY, workers=2, extra_args=(
        "--host", "127.0.0.2", "--region", "us-east-1", "--public-url", "https://r2v.example.com/r2v/")).start()  # fmt: skip
    try:
        health = httpx.get(server.base + "/healthz").json()  # --host and --port: reached there
        assert health == {"status": "ok", "workers": 2, "region": "us-east-1"}  # --workers, --region
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz")  # bound to --host only
        headers = {**HEADERS, "Host": "somewhere.else:1234"}
        policy = httpx.get(server.api + "/uploads", params={"action": "getPolicy", "model": "wan2.6-r2v"},
                           headers=headers).json()["data"]  # fmt: skip
        assert policy["upload_host"].startswith("https://r2v.example.com/r2v/")  # --public-url, not the Host
        refused = httpx.post(server.api + CREATE[len("/api/v1") :], json=_body("https://example.com/a.png"),
                             headers=HEADERS).json()  # fmt: skip
        assert refused["message"] == "Model not exist."  # us-east-1 has no wan2.7-r2v
        assert (tmp_path / "data" / "r2v.sqlite3").is_file()  # --data-dir
    finally:
        server.stop()


# -- bad values stop startup, naming the variable ----------------------------------------------------------------

NUMBERS = ["R2V_FETCH_CONNECT_TIMEOUT_S", "R2V_FETCH_TIMEOUT_S", "R2V_TASK_TIMEOUT_S", "R2V_PROBE_TIMEOUT_S",
           "R2V_WAN_SHIFT", "R2V_WAN_GUIDANCE", "R2V_WAN_CACHE_THRESHOLD"]  # fmt: skip
COUNTS = ["R2V_WORKER_MEMORY_MB", "R2V_PROBE_MEMORY_MB", "R2V_WAN_STEPS"]


@pytest.mark.http
@pytest.mark.parametrize("name", NUMBERS + COUNTS)
@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_every_numeric_variable_refuses_a_bad_value_naming_itself(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name} must be"):
        Settings(data_dir=tmp_path)


@pytest.mark.http
@pytest.mark.parametrize("name", COUNTS)
def test_counts_are_whole_numbers(tmp_path, monkeypatch, name):
    monkeypatch.setenv(name, "2.5")
    with pytest.raises(ValueError, match=f"^{name} must be a whole number, got '2.5'"):
        Settings(data_dir=tmp_path)
    monkeypatch.setenv(name, " 7 ")
    settings = Settings(data_dir=tmp_path)
    read = {"R2V_WORKER_MEMORY_MB": settings.worker_memory_mb, "R2V_PROBE_MEMORY_MB": settings.probe_memory_mb,
            "R2V_WAN_STEPS": settings.wan.steps}  # fmt: skip
    assert read.pop(name) == 7 and 7 not in read.values()


@pytest.mark.parametrize(
    "env, args, message",
    [({"R2V_FETCH_TIMEOUT_S": "soon"}, (), "R2V_FETCH_TIMEOUT_S must be a number, got 'soon'"),
     ({"R2V_WORKER_MEMORY_MB": "0"}, (), "R2V_WORKER_MEMORY_MB must be at least 1, got '0'"),
     ({"R2V_WAN_STEPS": "2.5"}, (), "R2V_WAN_STEPS must be a whole number, got '2.5'"),
     ({"R2V_RATE_LIMITS": "submit=fast"}, (), "R2V_RATE_LIMITS: submit must be a number or off, got 'fast'"),
     ({"R2V_ALLOW_PRIVATE_URLS": "10.0.0.0/33"}, (), "R2V_ALLOW_PRIVATE_URLS: "),
     ({"R2V_MODERATION_WORDS_FILE": "/no/such/words.txt"}, (), "R2V_MODERATION_WORDS_FILE: no such file"),
     ({"R2V_WAN_MODEL_DIR": "/no/such/wan"}, ("--engine", "wan"), "/no/such/wan")],
    ids=["float", "count", "whole", "rate-limits", "networks", "words-file", "wan-model-dir"],
)  # fmt: skip
@pytest.mark.server
def test_a_bad_setting_stops_serve_naming_it(tmp_path, env, args, message):
    done = _r2v("serve", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()), *args, env=env)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert message in done.stderr and "Traceback" not in done.stderr


# -- the wan engine's options ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random Wan VACE folder (as `r2v wan make-tiny` writes), torch on one thread."""
    import torch

    from r2v.engines.wan.tiny import make_tiny

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a shared 2-core machine make small runs swing 20x
    yield make_tiny(tmp_path_factory.mktemp("wan") / "tiny")
    torch.set_num_threads(previous)


@pytest.fixture
def wan_env(tiny, monkeypatch):
    """The environment of a server whose every model renders with the wan engine from `tiny`, on the CPU."""
    for name in [n for n in os.environ if n.startswith("R2V_WAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("R2V_ENGINE", "wan")
    monkeypatch.setenv("R2V_WAN_MODEL_DIR", str(tiny))
    monkeypatch.setenv("R2V_WAN_DEVICE", "cpu")
    return monkeypatch


def _wan_engine(tmp_path):
    """The engine a worker builds from Settings() (the environment) for a wan2.7-r2v task, loaded."""
    runner = runner_for(build(Settings(data_dir=tmp_path / "data"), FakeClock()))
    engine = runner.engines.for_model("wan2.7-r2v")
    engine.warm_up()
    return engine


def _job(assets, seconds: int = 1):
    from r2v.director import Cast, direct
    from r2v.engines.base import Asset, RenderJob
    from r2v.media.probe import probe

    prompt = "图1在跳舞。"
    girl = Asset("image", assets["girl"], probe(assets["girl"], "girl"), "图1")
    return RenderJob(width=1280, height=720, duration=seconds, seed=7, watermark=False, audio=False, assets=[girl],
                     prompt=prompt, storyboard=direct(prompt, Cast.of([("图1", "image")]), seconds))  # fmt: skip


def _inner(transformer):
    return getattr(transformer, "inner", transformer)  # under the batched-guidance wrapper, if any


@pytest.mark.http
def test_wan_options_from_the_environment_reach_the_pipeline(wan_env, assets, tmp_path, monkeypatch):
    """R2V_WAN_MODEL_DIR, _STEPS, _SHIFT, _RESOLUTION, _GUIDANCE, _ATTENTION and _BATCHED_CFG=0, observed on one
    render: the arguments of the pipeline call, the timesteps and attention kernel the transformer ran with,
    and the number of transformer passes."""
    from diffusers.models.attention_dispatch import AttentionBackendName, _AttentionBackendRegistry

    for name, value in {"R2V_WAN_STEPS": "3", "R2V_WAN_SHIFT": "7.5", "R2V_WAN_RESOLUTION": "64x64",
                        "R2V_WAN_GUIDANCE": "3.5", "R2V_WAN_ATTENTION": "_native_math",
                        "R2V_WAN_BATCHED_CFG": "0"}.items():  # fmt: skip
        wan_env.setenv(name, value)
    engine = _wan_engine(tmp_path)
    pipeline = engine.pipeline
    assert (
        engine.folder.path == Path(os.environ["R2V_WAN_MODEL_DIR"])
        and _inner(pipeline.transformer).config.num_layers == 3
    )
    kernels = {"native": 0, "_native_math": 0}
    for backend in (AttentionBackendName.NATIVE, AttentionBackendName._NATIVE_MATH):
        original = _AttentionBackendRegistry._backends[backend]

        def counting(*args, _original=original, _name=backend.value, **kwargs):
            kernels[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setitem(_AttentionBackendRegistry._backends, backend, counting)
    calls, timesteps = [], []
    real_call = type(pipeline).__call__
    monkeypatch.setattr(type(pipeline), "__call__", lambda self, **kw: calls.append(kw) or real_call(self, **kw))
    hook = _inner(pipeline.transformer).register_forward_pre_hook(
        lambda _m, args, kwargs: timesteps.append(float(kwargs["timestep"].flatten()[0])), with_kwargs=True
    )
    try:
        engine.render(_job(assets), tmp_path / "w.mp4", lambda _: None)
    finally:
        hook.remove()
    (call,) = calls  # one shot
    assert (call["num_inference_steps"], call["guidance_scale"]) == (3, 3.5)
    assert (call["width"], call["height"]) == (80, 48)  # 16:9 at about 64x64's area (the folder says 96x64)
    expected = type(pipeline.scheduler).from_config(pipeline.scheduler.config)
    assert expected.config.flow_shift == 7.5
    expected.set_timesteps(3)
    assert len(timesteps) == 6  # guidance not batched: two passes a step
    assert np.allclose(sorted(set(timesteps), reverse=True), expected.timesteps.float().numpy())
    folder_default = type(pipeline.scheduler).from_pretrained(engine.folder.path, subfolder="scheduler")
    assert folder_default.config.flow_shift != 7.5
    folder_default.set_timesteps(3)
    assert not np.allclose(folder_default.timesteps.float().numpy(), expected.timesteps.float().numpy())
    assert kernels["_native_math"] > 0 and kernels["native"] == 0


@pytest.mark.http
@pytest.mark.parametrize("threshold, skips", [("10", True), ("0.000001", False)])
def test_wan_step_cache_from_the_environment(wan_env, assets, tmp_path, threshold, skips):
    """R2V_WAN_CACHE=first-block skips the transformer's later blocks on steps whose first block barely changed;
    R2V_WAN_CACHE_THRESHOLD says how little: a huge one skips steps, a tiny one none."""
    wan_env.setenv("R2V_WAN_STEPS", "5")
    wan_env.setenv("R2V_WAN_RESOLUTION", "64x64")
    wan_env.setenv("R2V_WAN_CACHE", "first-block")
    wan_env.setenv("R2V_WAN_CACHE_THRESHOLD", threshold)
    engine = _wan_engine(tmp_path)
    runs = []
    hook = _inner(engine.pipeline.transformer).blocks[-1].ffn.register_forward_hook(lambda *_: runs.append(1))
    try:
        engine.render(_job(assets), tmp_path / "c.mp4", lambda _: None)
    finally:
        hook.remove()
    assert (0 < len(runs) < 5) if skips else len(runs) == 5  # one batched pass a step without the cache


@pytest.mark.http
def test_an_unknown_wan_cache_is_refused_naming_the_variable(wan_env, tmp_path):
    wan_env.setenv("R2V_WAN_CACHE", "everything")
    with pytest.raises(ValueError, match="R2V_WAN_CACHE: unknown step cache 'everything'"):
        _wan_engine(tmp_path)


@pytest.mark.http
def test_wan_compile_and_offload_from_the_environment(wan_env, tmp_path):
    """What can be seen on a CPU: R2V_WAN_COMPILE=1 compiles the transformer (compiling and running it takes
    minutes here, so nothing is rendered), R2V_WAN_OFFLOAD=1 puts the pipeline under accelerate's offload hooks
    and leaves guidance unbatched, as the README says. What offload saves on a GPU is not measured here."""
    from r2v.engines.wan.batched_guidance import BatchedGuidance

    plain = _wan_engine(tmp_path / "plain").pipeline
    assert isinstance(plain.transformer, BatchedGuidance) and plain.transformer.inner._compiled_call_impl is None
    wan_env.setenv("R2V_WAN_COMPILE", "1")
    compiled = _wan_engine(tmp_path / "compiled").pipeline
    assert compiled.transformer.inner._compiled_call_impl is not None
    wan_env.delenv("R2V_WAN_COMPILE")
    wan_env.setenv("R2V_WAN_OFFLOAD", "1")
    offloaded = _wan_engine(tmp_path / "offloaded").pipeline
    assert not isinstance(offloaded.transformer, BatchedGuidance)
    assert all(hasattr(getattr(offloaded, part), "_hf_hook") for part in ("transformer", "vae", "text_encoder"))
    wan_env.setenv("R2V_WAN_BATCHED_CFG", "off")
    assert not wan_options_from_env().batched_guidance
