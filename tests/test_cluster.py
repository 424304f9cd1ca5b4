"""The multi-machine mode end to end: API processes with no state of their own and `r2v worker` processes, on a real
PostgreSQL (procrastinate) and a real S3 server (SeaweedFS), each process with its own data dir as on its own
machine. Driven over HTTP and with the official dashscope SDK."""

from __future__ import annotations

import socket
import time
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.cluster import Cluster
from tests.conftest import KEY, OTHER_KEY
from tests.helpers import assert_spec_video, wait_status

pytestmark = pytest.mark.server

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


@pytest.fixture
def cluster(tmp_path, s3_server):
    bucket = s3_server.new_bucket()
    made = Cluster(tmp_path, f"s3://{bucket}/r2v", s3_server.env(), f"{KEY},{OTHER_KEY}")
    made.bucket = bucket
    yield made
    made.stop()


def body(url: str, duration: int = 2, resolution: str = "720P", seed: int = 1) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": resolution, "duration": duration, "seed": seed}}  # fmt: skip


def create(api, url: str, **kwargs) -> str:
    answer = httpx.post(api.api + CREATE, json=body(url, **kwargs), headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["output"]["task_id"]


def query(api, task_id: str) -> dict:
    return httpx.get(f"{api.api}/tasks/{task_id}", headers=HEADERS, timeout=30).json()["output"]


def wait_end(api, task_id: str, timeout_s: float = 240) -> dict:
    return wait_status(lambda: query(api, task_id), {"SUCCEEDED", "FAILED", "CANCELED"}, timeout=timeout_s)


def sql(cluster: Cluster, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(cluster.database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def test_a_task_created_on_one_api_is_queried_listed_and_served_by_another(cluster, s3_server, media, assets,
                                                                           tmp_path):  # fmt: skip
    a, b = cluster.add_api(), cluster.add_api()
    cluster.add_worker()
    task_id = create(a, media.url(assets["girl"].name))
    final = wait_end(b, task_id)
    assert final["task_status"] == "SUCCEEDED", final
    # video_url: a presigned GET of the object, straight from the object store, valid 24 h.
    url = final["video_url"]
    assert url.startswith(s3_server.endpoint + f"/{cluster.bucket}/r2v/results/{task_id}/"), url
    assert "X-Amz-Expires=" in url and "X-Amz-Signature=" in url
    expires = int(dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))["X-Amz-Expires"])
    assert 23 * 3600 < expires <= 24 * 3600
    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(url, timeout=30).content)
    assert_spec_video(video, 1280, 720, 2)
    listed = httpx.get(f"{b.api}/tasks", headers=HEADERS, params={"page_size": 10}).json()
    assert [t["task_id"] for t in listed["data"]] == [task_id]
    # The other key sees nothing of it, on either process.
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert httpx.get(f"{a.api}/tasks/{task_id}", headers=other).json()["output"]["task_status"] == "UNKNOWN"
    # Exactly one job ran it; the result is one object.
    assert s3_server.contents(cluster.bucket, f"r2v/results/{task_id}/") == {"1.mp4"}


def test_cancel_on_another_api_before_any_worker_runs_it(cluster, media, assets):
    a, b = cluster.add_api(), cluster.add_api()
    canceled, kept = create(a, media.url(assets["girl"].name)), create(a, media.url(assets["girl"].name), seed=2)
    answer = httpx.post(f"{b.api}/tasks/{canceled}/cancel", headers=HEADERS)
    assert answer.status_code == 200, answer.text
    jobs = dict(
        sql(cluster, "SELECT t.task_id, j.status::text FROM tasks t JOIN procrastinate_jobs j ON j.id = t.job_id")
    )
    assert jobs == {canceled: "cancelled", kept: "todo"}  # the task's procrastinate job went with it
    cluster.add_worker()
    assert wait_end(b, kept)["task_status"] == "SUCCEEDED"
    assert query(a, canceled)["task_status"] == "CANCELED"


def test_the_sdk_uploads_into_the_bucket_and_a_worker_resolves_the_oss_url(cluster, s3_server, assets, tmp_path):
    import dashscope
    from dashscope import VideoSynthesis

    api = cluster.add_api()
    cluster.add_worker()
    previous = dashscope.base_http_api_url
    dashscope.base_http_api_url = api.api
    try:
        rsp = VideoSynthesis.call(api_key=KEY, model="wan2.7-r2v", prompt="图1", resolution="720P", duration=2,
                                  media=[{"type": "reference_image", "url": str(assets["girl"])}])  # fmt: skip
    finally:
        dashscope.base_http_api_url = previous
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    uploads = s3_server.contents(cluster.bucket, "r2v/")
    assert [u for u in uploads if u.endswith(assets["girl"].name)], uploads  # the form went into the bucket
    assert_spec_video(_download(rsp.output.video_url, tmp_path / "up.mp4"), 1280, 720, 2)


def _download(url: str, path):
    path.write_bytes(httpx.get(url, timeout=60).content)
    return path


def test_a_killed_worker_s_task_is_taken_over_and_ends_once(cluster, s3_server, media, assets):
    """SIGKILL of a worker mid-render: another worker takes the task over within 60 s of the dead one's last
    heartbeat; every task ends SUCCEEDED exactly once, with one whole result object."""
    a, b = cluster.add_api(), cluster.add_api()
    workers = [cluster.add_worker() for _ in range(3)]
    ids = [create((a, b)[i % 2], media.url(assets["girl"].name), duration=10, resolution="1080P", seed=i)
           for i in range(4)]  # fmt: skip
    victim_task, victim_pid = _first_running(cluster)
    victim = next(w for w in workers if w.proc.pid == victim_pid)
    victim.kill9()
    killed_at = time.monotonic()
    taken_over = wait_status(lambda: query(a, victim_task), {"SUCCEEDED"}, timeout=300)
    assert taken_over["task_status"] == "SUCCEEDED"
    rows = dict(sql(cluster, "SELECT task_id, attempt FROM tasks WHERE task_id = %s", (victim_task,)))
    assert rows[victim_task] == 2, "the task was rendered again by another worker, as its second attempt"
    restarted = sql(cluster, "SELECT 1")  # the database is fine
    assert restarted
    for task_id in ids:
        final = wait_end(b, task_id, timeout_s=300)
        assert final["task_status"] == "SUCCEEDED", final
        objects = s3_server.contents(cluster.bucket, f"r2v/results/{task_id}/")
        assert len(objects) == 1, objects  # one whole result: the killed render never wrote one
        assert urlsplit(final["video_url"]).path.endswith(f"{task_id}/{next(iter(objects))}")
    assert time.monotonic() - killed_at < 300


def _first_running(cluster: Cluster, timeout_s: float = 120) -> tuple[str, int]:
    """(task id, worker pid) of the first task seen RUNNING, once it has rendered for a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = sql(cluster, "SELECT task_id, worker FROM tasks WHERE status = 'RUNNING' AND progress > 0 LIMIT 1")
        if rows:
            task_id, worker = rows[0]
            return task_id, int(worker.rsplit("/", 1)[1])
        time.sleep(0.2)
    raise AssertionError("no task started rendering")


def metric(text: str, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_metrics_and_health_of_the_api_and_of_a_worker(cluster, media, assets):
    from tests.helpers import free_port

    api = cluster.add_api()
    port = free_port()
    cluster.add_worker(extra_args=("--metrics-port", str(port)))
    assert wait_end(api, create(api, media.url(assets["girl"].name)))["task_status"] == "SUCCEEDED"
    waiting = create(api, media.url(assets["girl"].name), seed=2)
    httpx.post(f"{api.api}/tasks/{waiting}/cancel", headers=HEADERS)  # canceled if still PENDING, else it runs
    scraped = httpx.get(api.base + "/metrics").text
    assert metric(scraped, "r2v_tasks", status="SUCCEEDED") >= 1
    assert metric(scraped, "r2v_store_up") == 1
    assert metric(scraped, "r2v_queue_depth") is not None
    assert metric(scraped, "r2v_task_duration_seconds_count", status="SUCCEEDED") >= 1
    worker = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert metric(worker, "r2v_tasks_finished_total", status="SUCCEEDED") >= 1
    assert metric(worker, "r2v_task_duration_seconds_count", status="SUCCEEDED") >= 1
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    assert httpx.get(api.base + "/healthz").status_code == 200


def test_the_per_key_running_cap_holds_across_workers(cluster, media, assets):
    cluster.env["R2V_RATE_LIMITS"] = "running=1"
    api = cluster.add_api()
    for _ in range(2):
        cluster.add_worker(concurrency=2)
    ids = [create(api, media.url(assets["girl"].name), seed=i) for i in range(4)]
    most = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        running = sql(cluster, "SELECT count(*) FROM tasks WHERE status = 'RUNNING'")[0][0]
        most = max(most, running)
        if sql(cluster, "SELECT count(*) FROM tasks WHERE status = 'SUCCEEDED'")[0][0] == len(ids):
            break
        time.sleep(0.05)
    assert [query(api, t)["task_status"] for t in ids] == ["SUCCEEDED"] * 4
    assert most == 1  # four render slots, one key, a cap of one


def test_a_running_task_is_canceled_through_procrastinate_s_abort(cluster, media, assets):
    cluster.env["R2V_CANCEL_RUNNING"] = "1"
    api = cluster.add_api()
    worker = cluster.add_worker()
    task_id = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    _first_running(cluster)
    assert httpx.post(f"{api.api}/tasks/{task_id}/cancel", headers=HEADERS).status_code == 200
    assert wait_end(api, task_id, timeout_s=60)["task_status"] == "CANCELED"
    events = sql(cluster, "SELECT e.type::text FROM tasks t JOIN procrastinate_events e ON e.job_id = t.job_id")
    assert ("abort_requested",) in events, events
    # The same worker (its model still loaded) takes the next task.
    assert wait_end(api, create(api, media.url(assets["girl"].name), seed=3))["task_status"] == "SUCCEEDED"
    assert worker.proc.poll() is None


def test_a_stopped_worker_hands_its_render_back_without_using_an_attempt(cluster, media, assets):
    api = cluster.add_api()
    first = cluster.add_worker()
    task_id = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    _first_running(cluster)
    assert first.stop() == 0  # SIGTERM: a graceful stop
    assert sql(cluster, "SELECT status, attempt FROM tasks") == [("PENDING", 0)]
    cluster.add_worker()
    assert wait_end(api, task_id)["task_status"] == "SUCCEEDED"
    assert sql(cluster, "SELECT attempt FROM tasks") == [(1,)]


def test_the_api_answers_503_while_the_database_is_down_and_recovers(cluster, media, assets):
    from tests.pgserver import postgres

    api = cluster.add_api()
    cluster.add_worker()
    before = create(api, media.url(assets["girl"].name))
    server = postgres()
    server.stop()
    try:
        for _ in range(3):
            started = time.monotonic()
            answer = httpx.get(f"{api.api}/tasks/{before}", headers=HEADERS, timeout=30)
            assert time.monotonic() - started < 10
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "ServiceUnavailable" and set(answer.json()) == {"code", "message",
                                                                                           "request_id"}  # fmt: skip
        assert httpx.get(api.base + "/healthz", timeout=30).status_code == 503
    finally:
        server.start()
    deadline = time.monotonic() + 30  # it recovers by itself: no restart of the API or the worker
    while httpx.get(f"{api.api}/tasks/{before}", headers=HEADERS, timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover within 30 s of the database's return"
        time.sleep(0.2)
    assert wait_end(api, before, timeout_s=180)["task_status"] == "SUCCEEDED"
    after = create(api, media.url(assets["girl"].name), seed=5)  # the worker reconnected by itself
    assert wait_end(api, after, timeout_s=180)["task_status"] == "SUCCEEDED"


def test_db_upgrade_is_idempotent_and_processes_refuse_an_older_schema(cluster, tmp_path):
    import subprocess
    import sys

    env = cluster.process_env()
    upgrade = [sys.executable, "-m", "r2v", "db", "upgrade", "--database", cluster.database_url]
    again = subprocess.run(upgrade, capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0 and "already current" in again.stdout, again.stderr
    sql(cluster, "UPDATE r2v_schema SET version = 0")
    for command in (["serve", "--workers", "0", "--data-dir", str(tmp_path / "a")],
                    ["worker", "--data-dir", str(tmp_path / "w")]):  # fmt: skip
        refused = subprocess.run([sys.executable, "-m", "r2v", *command, *cluster.backend_args()],
                                 capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "r2v db upgrade --database" in refused.stderr, refused.stderr
    sql(cluster, "UPDATE r2v_schema SET version = 1")  # as it was (version 0 has no tables: upgrade makes them)


def test_a_missing_bucket_or_refused_credentials_stop_the_api_at_start(cluster, s3_server, tmp_path):
    import subprocess
    import sys

    def serve(storage: str, **env: str) -> subprocess.CompletedProcess:
        args = [sys.executable, "-m", "r2v", "serve", "--workers", "0", "--data-dir", str(tmp_path / "d"),
                "--database", cluster.database_url, "--storage", storage]  # fmt: skip
        return subprocess.run(args, capture_output=True, text=True, env={**cluster.process_env(), **env}, timeout=60)

    missing = serve("s3://no-such-bucket-r2v/x")
    assert missing.returncode == 2 and "no-such-bucket-r2v" in missing.stderr, missing.stderr
    refused = serve(f"s3://{cluster.bucket}/r2v", AWS_SECRET_ACCESS_KEY="wrong")
    assert refused.returncode == 2 and "AWS_ACCESS_KEY_ID" in refused.stderr, refused.stderr


def test_with_a_public_url_r2v_proxies_result_files_from_the_bucket(cluster, media, assets, tmp_path):
    proxy = cluster.add_api(extra_args=("--public-url", "https://videos.example"))
    cluster.add_worker()
    final = wait_end(proxy, create(proxy, media.url(assets["girl"].name)))
    assert final["video_url"].startswith("https://videos.example/files/results/"), final
    assert "Signature=" in final["video_url"]
    local = final["video_url"].replace("https://videos.example", proxy.base)  # as the load balancer would
    video = _download(local, tmp_path / "proxied.mp4")
    assert_spec_video(video, 1280, 720, 2)
    ranged = httpx.get(local, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_a_render_past_the_time_limit_fails_and_the_worker_takes_the_next(cluster, media, assets):
    cluster.env["R2V_TASK_TIMEOUT_S"] = "5"
    api = cluster.add_api()
    worker = cluster.add_worker()
    slow = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    final = wait_end(api, slow, timeout_s=120)
    assert final["task_status"] == "FAILED" and final["code"] == "InternalError", final
    assert final["message"] == "rendering took longer than the 5 s limit (R2V_TASK_TIMEOUT_S)"
    # The same process (no restart: the render stopped when asked) takes the next task. A short render fits in
    # 5 s on an idle machine; on a loaded one the limit may end it too, which also shows that this worker ran it.
    quick = wait_end(api, create(api, media.url(assets["girl"].name), duration=2, seed=2))
    assert quick["task_status"] == "SUCCEEDED" or quick["message"] == final["message"], quick
    assert worker.proc.poll() is None and "Traceback" not in worker.log_tail(100_000), worker.log_tail()


def test_renders_past_the_memory_limit_fail_and_the_worker_exits_for_a_fresh_one(cluster, media, assets):
    cluster.env["R2V_WORKER_MEMORY_MB"] = "1"  # any render grows the process by more than 1 MB
    api = cluster.add_api()
    worker = cluster.add_worker()
    task_id = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    final = wait_end(api, task_id, timeout_s=120)
    assert final["task_status"] == "FAILED", final
    assert final["message"] == "rendering used more than the 1 MB memory limit (R2V_WORKER_MEMORY_MB)"
    assert worker.proc.wait(timeout=60) == 75, worker.log_tail()  # EX_TEMPFAIL: a service manager restarts it
    assert "Traceback" not in worker.log_tail(100_000), worker.log_tail()


def test_an_object_store_outage_at_the_end_of_a_render_costs_no_attempt(cluster, s3_server, media, assets):
    """The object store goes away mid-render: the finished video waits for it (the render is not lost, nor is an
    attempt), and lands once it is back."""
    api = cluster.add_api()
    worker = cluster.add_worker()
    task_id = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    _first_running(cluster)
    s3_server.stop()
    try:
        deadline = time.monotonic() + 180
        while "trying again in" not in worker.log_tail(100_000):  # the upload met the outage
            assert time.monotonic() < deadline and worker.proc.poll() is None, worker.log_tail()
            time.sleep(0.2)
    finally:
        s3_server.start()
    final = wait_end(api, task_id, timeout_s=120)
    assert final["task_status"] == "SUCCEEDED", final
    assert sql(cluster, "SELECT attempt FROM tasks") == [(1,)]
    assert s3_server.contents(cluster.bucket, f"r2v/results/{task_id}/") == {"1.mp4"}
    assert httpx.get(final["video_url"], timeout=30).status_code == 200


def test_a_task_whose_worker_dies_three_times_fails_once_and_for_all(cluster, media, assets):
    api = cluster.add_api()
    task_id = create(api, media.url(assets["girl"].name), duration=10, resolution="1080P")
    for attempt in (1, 2, 3):
        worker = cluster.add_worker()
        deadline = time.monotonic() + 150  # the recovery hands the task on within 60 s of a death
        while sql(cluster, "SELECT worker, attempt FROM tasks WHERE progress > 0") != [
            (f"{socket.gethostname()}/{worker.proc.pid}", attempt)
        ]:
            assert time.monotonic() < deadline, sql(cluster, "SELECT status, worker, attempt FROM tasks")
            time.sleep(0.2)
        worker.kill9()
    final = wait_end(api, task_id, timeout_s=150)
    assert final["task_status"] == "FAILED" and final["code"] == "InternalError", final
    assert final["message"] == "rendering was interrupted 3 times"
    assert sql(cluster, "SELECT status, attempt FROM tasks") == [("FAILED", 3)]
