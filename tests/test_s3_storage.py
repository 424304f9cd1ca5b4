"""The S3 BlobStore against a real S3 server (SeaweedFS on loopback), for what the generic BlobStore contract
(test_blob_store.py) cannot show: objects land under the prefix and nowhere else, presigned URLs that a plain HTTP
client can use until they expire, ranged reads that never mix two versions of a blob, multipart uploads, the
startup check naming what is wrong, aborted uploads swept away, and an outage that fails fast, naming the
endpoint, and heals by itself."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from r2v.backends import s3
from r2v.backends.s3 import MAX_PRESIGN_S, S3BlobStore, StorageError, StorageUnavailable, open_s3
from r2v.errors import BackendUnavailable
from tests.s3server import S3Server, free_port_pairs

pytestmark = pytest.mark.server


def payload(size: int, seed: int = 1) -> bytes:
    """`size` bytes in which no two nearby slices are alike (a short or shifted read cannot pass for them)."""
    block = bytes((i * 31 + seed * 17 + i // 256) % 256 for i in range(65536))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def store(s3_server: S3Server, bucket: str) -> S3BlobStore:
    return S3BlobStore(bucket, "deploy/r2v", client=s3_server.client())


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch, tmp_path) -> None:
    """The environment an operator sets for `r2v serve`, and no ~/.aws files of whoever runs the tests."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def keys(s3_server: S3Server, bucket: str) -> set[str]:
    """The bucket's objects (not the 0-byte folders some servers list: SeaweedFS's)."""
    listing = s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", ())
    return {o["Key"] for o in listing if not o["Key"].endswith("/")}


def read(stream) -> bytes:
    with stream:
        return stream.read()


# --- every method, on real objects -----------------------------------------------------------------------------


def test_every_method_round_trips_under_the_prefix(s3_server, bucket, store, tmp_path):
    data = payload(300_000)
    store.put_bytes("inputs/t1/a.png", b"png")
    store.put_bytes("inputs/t1/deep/b.png", b"deep")
    source = tmp_path / "out.mp4"
    source.write_bytes(data)
    store.put_file("results/t1/1.mp4", source)
    assert keys(s3_server, bucket) == {"deploy/r2v/inputs/t1/a.png", "deploy/r2v/inputs/t1/deep/b.png",
                                       "deploy/r2v/results/t1/1.mp4"}  # fmt: skip
    assert store.exists("results/t1/1.mp4") and not store.exists("results/t1") and not store.exists("results/t2")
    assert read(store.open("results/t1/1.mp4")) == data
    assert store.open("results/none.mp4") is None
    dest = tmp_path / "fetched"
    assert store.fetch("results/t1/1.mp4", dest) and dest.read_bytes() == data
    assert store.fetch("results/none.mp4", tmp_path / "none") is False and not (tmp_path / "none").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fetched", "out.mp4"]  # no temporary file left
    assert store.children("inputs") == ["t1"] and store.children("inputs/t1") == ["a.png", "deep"]
    assert store.children("results/t1") == ["1.mp4"] and store.children("nothing") == []
    url = store.download_url("results/t1/1.mp4", int(time.time()) + 600)
    assert url.startswith(s3_server.endpoint + f"/{bucket}/deploy/r2v/results/t1/1.mp4?")  # path-style
    store.remove_partial_writes()  # nothing to abort: every finished blob stays
    assert len(keys(s3_server, bucket)) == 3
    store.delete("inputs/t1")
    store.delete("results/t1/1.mp4")
    assert keys(s3_server, bucket) == set()


def test_a_prefix_is_a_store_of_its_own(s3_server, bucket):
    client = s3_server.client()
    mine, neighbour, root = (S3BlobStore(bucket, p, client=client) for p in ("a", "ab", ""))
    for each in (mine, neighbour, root):
        each.put_bytes("inputs/t1/x.png", b"x")
    assert keys(s3_server, bucket) == {"a/inputs/t1/x.png", "ab/inputs/t1/x.png", "inputs/t1/x.png"}
    assert root.children("a") == ["inputs"] and root.children("ab") == ["inputs"]
    mine.delete("inputs")
    assert keys(s3_server, bucket) == {"ab/inputs/t1/x.png", "inputs/t1/x.png"}
    assert neighbour.children("inputs") == ["t1"] and root.children("inputs") == ["t1"]
    for name in ("../ab/inputs/t1/x.png", "..", "", ".", "/inputs", "inputs/../.."):
        for method in ("exists", "open", "children", "delete"):
            with pytest.raises(ValueError):
                getattr(mine, method)(name)
        with pytest.raises(ValueError):
            mine.download_url(name, int(time.time()) + 60)
    assert neighbour.exists("inputs/t1/x.png")


def test_deleting_the_last_blob_under_a_prefix_leaves_no_empty_prefix(s3_server, bucket, store):
    """SeaweedFS keeps folders; S3 has none. Listed with a delimiter, an emptied folder must not show."""
    for name in ("inputs/t1/a.png", "inputs/t1/deep/er/b.png", "inputs/t2/c.png"):
        store.put_bytes(name, b"x")
    store.delete("inputs/t1")
    store.delete("inputs/t2/c.png")
    assert store.children("inputs") == []
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="deploy/r2v/inputs/", Delimiter="/")
    assert listing.get("CommonPrefixes", []) == []  # (SeaweedFS lists the kept "inputs/" itself as a 0-byte key)
    assert [o["Key"] for o in listing.get("Contents", [])] in ([], ["deploy/r2v/inputs/"])
    store.put_bytes("inputs/t3/d.png", b"x")  # and the store still writes there
    assert store.children("inputs") == ["t3"]


def test_delete_takes_more_than_one_batch(s3_server, bucket, store):
    client = s3_server.client()
    with ThreadPoolExecutor(8) as pool:  # DeleteObjects takes 1000 keys at most
        list(pool.map(lambda i: client.put_object(Bucket=bucket, Key=f"deploy/r2v/inputs/t1/{i:04}", Body=b""),
                      range(1010)))  # fmt: skip
    store.put_bytes("inputs/t2/kept", b"k")
    assert len(store.children("inputs/t1")) == 1010  # listed across pages
    store.delete("inputs/t1")
    assert keys(s3_server, bucket) == {"deploy/r2v/inputs/t2/kept"}


# --- presigned URLs ------------------------------------------------------------------------------------------


def test_a_presigned_url_serves_the_blob_to_a_plain_client_until_it_expires(bucket, s3_env):
    store = open_s3(f"s3://{bucket}/deploy/r2v")  # the client `r2v serve` builds (SigV4, path-style)
    data = payload(100_000, seed=2)
    store.put_bytes("results/t1/1.mp4", data)
    url = store.download_url("results/t1/1.mp4", int(time.time()) + 3600)
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == data
    ranged = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206 and ranged.content == data[1000:2000]
    query = parse_qs(urlsplit(url).query)
    assert 3590 <= int(query["X-Amz-Expires"][0]) <= 3600
    signature = query["X-Amz-Signature"][0]
    tampered = url.replace(signature, signature[:-4] + ("0000" if not signature.endswith("0000") else "1111"))
    assert httpx.get(tampered).status_code == 403
    other_blob = url.replace("/results/t1/1.mp4?", "/results/t1/2.mp4?")  # the signature covers the name
    assert httpx.get(other_blob).status_code == 403

    expired = store.download_url("results/t1/1.mp4", int(time.time()) - 100)  # in the past: 1 s, the least
    assert parse_qs(urlsplit(expired).query)["X-Amz-Expires"] == ["1"]
    time.sleep(2.5)
    assert httpx.get(expired).status_code == 403
    assert httpx.get(url).status_code == 200  # the long one still works

    far = store.download_url("results/t1/1.mp4", int(time.time()) + 30 * 86400)
    assert parse_qs(urlsplit(far).query)["X-Amz-Expires"] == [str(MAX_PRESIGN_S)]  # SigV4's limit


# --- reading -------------------------------------------------------------------------------------------------


def test_open_seeks_and_reads_ranges(store):
    data = payload(3_000_000, seed=3)
    store.put_bytes("results/t1/1.mp4", data)
    with store.open("results/t1/1.mp4") as stream:
        assert stream.seekable() and stream.readable()
        assert stream.seek(0, os.SEEK_END) == len(data)  # the size, known without reading (HTTP Range answers)
        assert stream.seek(2_500_000) == 2_500_000
        assert stream.read(10) == data[2_500_000:2_500_010] and stream.tell() == 2_500_010
        stream.seek(-5, os.SEEK_END)
        assert stream.read() == data[-5:] and stream.read() == b""
        stream.seek(len(data) + 100)  # past the end: nothing, as a file
        assert stream.read(10) == b""
        stream.seek(123)
        assert stream.read(1_000_000) == data[123:1_000_123]
        stream.seek(10, os.SEEK_CUR)
        assert stream.read(5) == data[1_000_133:1_000_138]
        stream.seek(0)
        assert stream.read() == data
        with pytest.raises(OSError):
            stream.seek(-1)
    store.put_bytes("empty", b"")
    with store.open("empty") as stream:
        assert stream.seek(0, os.SEEK_END) == 0 and stream.read() == b""


def test_a_reader_never_mixes_two_versions_of_a_blob(store):
    old, new = payload(3_000_000, seed=4), payload(3_000_000, seed=5)
    store.put_bytes("results/t1/1.mp4", old)
    with store.open("results/t1/1.mp4") as stream:
        assert stream.read(100) == old[:100]
        store.put_bytes("results/t1/1.mp4", new)  # replaced while it is being read
        stream.seek(2_000_000)  # the next bytes come from another GET: of the old version, or an error
        with pytest.raises(StorageError, match="replaced or deleted while it was being read"):
            stream.read(100)
    assert read(store.open("results/t1/1.mp4")) == new


# --- writing -------------------------------------------------------------------------------------------------


def test_a_big_file_goes_up_in_parts_and_comes_back_whole(s3_server, bucket, store, tmp_path):
    data = os.urandom(20_000_000)
    source = tmp_path / "big.mp4"
    source.write_bytes(data)
    store.put_file("results/t1/1.mp4", source)
    head = s3_server.client().head_object(Bucket=bucket, Key="deploy/r2v/results/t1/1.mp4")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # a multipart upload of 3 parts of 8 MiB
    dest = tmp_path / "back.mp4"
    assert store.fetch("results/t1/1.mp4", dest) and dest.read_bytes() == data
    assert read(store.open("results/t1/1.mp4")) == data
    store.put_bytes("results/t1/2.mp4", data)  # put_bytes of a big blob goes in parts too
    assert read(store.open("results/t1/2.mp4")) == data


@pytest.mark.parametrize("size", [1000, 5 * 1024 * 1024, 12_000_000], ids=["small", "one part", "three parts"])
def test_put_file_from_a_pipe(store, tmp_path, size):
    """A source with no size known up front (a pipe) goes up part by part."""
    data = payload(size, seed=6)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    store.put_file("results/t1/1.mp4", fifo)
    writer.join()
    assert read(store.open("results/t1/1.mp4")) == data


def test_remove_partial_writes_aborts_the_uploads_a_dead_writer_left(s3_server, bucket, store):
    client = s3_server.client()
    begun = {}
    for key in ("deploy/r2v/results/t1/1.mp4", "deploy/other/results/t1/1.mp4"):  # ours, and another store's
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=payload(5 * 1024 * 1024))
        begun[key] = upload
    store.put_bytes("results/t0/1.mp4", b"finished")
    upload = begun["deploy/r2v/results/t1/1.mp4"]
    assert s3_server.contents(bucket, "deploy/r2v") == {f"results/t1/1.mp4 (upload {upload})", "results/t0/1.mp4"}
    store.remove_partial_writes(older_than_s=3600)  # where other machines may be writing: only old ones
    assert len(s3_server.contents(bucket, "deploy/r2v")) == 2
    store.remove_partial_writes()
    assert s3_server.contents(bucket, "deploy/r2v") == {"results/t0/1.mp4"}
    others = client.list_multipart_uploads(Bucket=bucket, Prefix="deploy/other/").get("Uploads", [])
    assert [u["UploadId"] for u in others] == [begun["deploy/other/results/t1/1.mp4"]]
    assert read(store.open("results/t0/1.mp4")) == b"finished" and not store.exists("results/t1/1.mp4")


# --- the startup check and open_s3 ----------------------------------------------------------------------------


def test_open_s3_takes_endpoint_and_credentials_from_boto3s_environment(s3_server, bucket, s3_env):
    store = open_s3(f"s3://{bucket}/some/prefix/")
    assert store.endpoint == s3_server.endpoint
    store.check()
    store.put_bytes("a", b"x")
    assert keys(s3_server, bucket) == {"some/prefix/a"}
    bare = open_s3(f"s3://{bucket}")
    bare.check()
    assert bare.children("some") == ["prefix"]
    for bad in ("s3://", "s3:///prefix", "file:///x", "s3:bucket", f"s3://{bucket}/p?endpoint=x", f"s3://{bucket}/.."):
        with pytest.raises(ValueError, match="--storage"):
            open_s3(bad)


def test_check_names_the_missing_bucket(s3_server, s3_env):
    with pytest.raises(ValueError, match=r"--storage: bucket 'no-such-bucket-r2v' does not exist at http://") as e:
        open_s3("s3://no-such-bucket-r2v/x").check()
    assert s3_server.endpoint in str(e.value)


@pytest.mark.parametrize("wrong", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_check_names_the_refused_credentials(s3_server, bucket, s3_env, monkeypatch, wrong):
    monkeypatch.setenv(wrong, "not-the-right-one")
    with pytest.raises(ValueError, match="--storage: the S3 credentials were refused") as e:
        open_s3(f"s3://{bucket}/x").check()
    assert "AWS_ACCESS_KEY_ID" in str(e.value) and s3_server.endpoint in str(e.value)


def test_check_names_missing_credentials(bucket, s3_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ValueError, match="--storage: no S3 credentials found .*AWS_ACCESS_KEY_ID"):
        open_s3(f"s3://{bucket}/x").check()


def test_check_names_an_unreachable_endpoint(bucket, s3_env, monkeypatch):
    nowhere = f"http://127.0.0.1:{free_port_pairs(1)[0]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", nowhere)
    started = time.monotonic()
    with pytest.raises(ValueError, match=f"--storage: the S3 endpoint {nowhere} cannot be reached"):
        open_s3(f"s3://{bucket}/x").check()
    assert time.monotonic() - started < 15


# --- an outage ----------------------------------------------------------------------------------------------


def test_an_outage_fails_fast_naming_the_endpoint_and_heals(s3_server, bucket, tmp_path, monkeypatch):
    store = S3BlobStore(bucket, "r2v", client=s3_server.client())
    store.put_bytes("results/t1/1.mp4", b"before")
    source = tmp_path / "out.mp4"
    source.write_bytes(b"during")
    s3_server.stop()
    try:
        calls = [lambda s: s.exists("results/t1/1.mp4"), lambda s: s.open("results/t1/1.mp4"),
                 lambda s: s.put_file("results/t2/1.mp4", source), lambda s: s.put_bytes("x", b"x"),
                 lambda s: s.fetch("results/t1/1.mp4", tmp_path / "dest"), lambda s: s.children("results"),
                 lambda s: s.delete("results/t1"), lambda s: s.remove_partial_writes()]  # fmt: skip
        for call in calls:
            fresh = S3BlobStore(bucket, "r2v", client=store.client)  # no failure seen yet: it tries the server
            started = time.monotonic()
            with pytest.raises(StorageUnavailable) as failure:
                call(fresh)
            assert time.monotonic() - started < 15
            assert s3_server.endpoint in str(failure.value)
            assert isinstance(failure.value, OSError) and isinstance(failure.value, BackendUnavailable)
        assert not (tmp_path / "dest").exists()
        monkeypatch.setattr(s3, "FAIL_FAST_S", 3600)  # the window, long enough for a loaded machine
        with pytest.raises(StorageUnavailable):
            store.exists("results/t1/1.mp4")
        with pytest.raises(StorageUnavailable, match="failed a moment ago"):  # within the window: at once
            store.exists("results/t1/1.mp4")
        assert time.monotonic() < store._down_until
    finally:
        s3_server.start()
    store._down_until = 0  # the window ended
    assert read(store.open("results/t1/1.mp4")) == b"before"
    store.put_file("results/t2/1.mp4", source)
    assert read(store.open("results/t2/1.mp4")) == b"during"


def test_a_stream_cut_by_an_outage_fails_naming_the_endpoint(s3_server, bucket):
    store = S3BlobStore(bucket, "r2v", client=s3_server.client())
    data = payload(20_000_000, seed=7)
    store.put_bytes("results/t1/1.mp4", data)
    stream, other = store.open("results/t1/1.mp4"), store.open("results/t1/1.mp4")
    named = s3_server.endpoint.replace(".", r"\.")
    try:
        assert stream.read(1000) == data[:1000] and other.read(1000) == data[:1000]
        s3_server.stop()
        try:
            with pytest.raises(StorageUnavailable, match=named):  # the GET under way is cut off
                while other.read(1024 * 1024):  # (what the socket had buffered comes first)
                    pass
            store._down_until = 0  # past the fail-fast window
            stream.seek(10_000_000)  # a new GET
            with pytest.raises(StorageUnavailable, match=named):
                stream.read(1000)
        finally:
            s3_server.start()
    finally:
        stream.close()
        other.close()


def test_forked_children_get_connections_of_their_own(store):
    """A forked worker must not share the parent's pooled sockets (both would read each other's answers)."""
    store.put_bytes("a", b"parent")
    assert read(store.open("a")) == b"parent"  # the parent's pool now holds a connection
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for i in range(20):
                store.put_bytes(f"child/{i}", b"c" * i)
            code = 0 if all(read(store.open(f"child/{i}")) == b"c" * i for i in range(20)) else 1
        finally:
            os._exit(code)
    for _ in range(20):
        assert read(store.open("a")) == b"parent"
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert len(store.children("child")) == 20


def test_a_render_that_cannot_reach_the_store_is_handed_back_with_its_attempt(s3_server, bucket, s3_env, tmp_path,
                                                                             assets):  # fmt: skip
    """A cluster worker whose object store is away when it fetches a task's inputs hands the task back to the queue
    (PENDING, the attempt not used up, to run again later) instead of failing it; once the store is back, it
    renders."""
    from fastapi.testclient import TestClient

    from r2v.clock import FakeClock
    from r2v.config import Settings
    from r2v.tasks.model import TaskStatus
    from r2v.tasks.queue import JobSignals, RetryLater
    from r2v.wiring import build, build_app, runner_for
    from tests.conftest import KEY, data_uri

    parts = build(Settings(data_dir=tmp_path, storage_url=f"s3://{bucket}/r2v", api_keys=(KEY,),
                           moderation_words_file=None), FakeClock())  # fmt: skip
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": data_uri(assets["girl"])}]},
        "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    with TestClient(build_app(parts)) as client:  # the data URI's image is kept in the bucket
        answer = client.post("/api/v1/services/aigc/video-generation/video-synthesis", json=body,
                             headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"})  # fmt: skip
    task_id = answer.json()["output"]["task_id"]
    runner = runner_for(parts)
    signals = JobSignals(abort_requested=lambda: False, stopping=lambda: False)
    task = parts.tasks.claim_next("w1", parts.clock.now_ms(), None)
    s3_server.stop()
    try:
        with pytest.raises(RetryLater) as later:
            runner.run(task, signals)
        assert later.value.task_id == task_id and later.value.delay_s >= 10
        handed_back = parts.tasks.get(task_id)
        assert (handed_back.status, handed_back.attempt) == (TaskStatus.PENDING, 0)
    finally:
        s3_server.start()
    task = parts.tasks.claim_next("w1", parts.clock.now_ms(), None)
    runner.run(task, signals)
    done = parts.tasks.get(task_id)
    assert (done.status, done.attempt, done.result_name) == (TaskStatus.SUCCEEDED, 1, f"results/{task_id}/1.mp4")
