"""The BlobStore contract, run on every storage backend (tests/backends.py), each opened by the composition root
from its URL: whole files in (moved, or copied from another filesystem) and out (into a local file, or as a
seekable stream), listing and deleting by prefix, names that cannot leave the store, and atomic writes: a reader
never sees half a blob, not while it is written and not after a writer died in the middle."""

from __future__ import annotations

import os
import select
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from r2v import wiring
from r2v.storage.blobs import BlobStore
from tests.backends import STORAGE_CONTENTS, STORAGES

pytestmark = pytest.mark.unit

NAME = "results/t1.mp4"


def payload(size: int, seed: int = 1) -> bytes:
    """`size` bytes in which no two nearby slices are alike (a short or shifted read cannot pass for them)."""
    block = bytes((i * 31 + seed * 17 + i // 256) % 256 for i in range(65536))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture(params=sorted(STORAGES))
def backend(request) -> str:
    return request.param


@pytest.fixture
def url(backend, tmp_path) -> str:
    return STORAGES[backend](tmp_path)


@pytest.fixture
def blobs(url) -> BlobStore:
    return wiring.open_storage(url)


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A folder on another filesystem than the store's (a worker's scratch room, an upload's spool, may be)."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        assert os.stat(folder).st_dev != os.stat(tmp_path).st_dev, "/dev/shm and the tmp folder share a filesystem"
        yield folder
    finally:
        shutil.rmtree(folder)


def read(blobs: BlobStore, name: str) -> bytes | None:
    stream = blobs.open(name)
    if stream is None:
        return None
    with stream:
        return stream.read()


# --- in and out ----------------------------------------------------------------------------------------------


def test_put_bytes_then_open_a_seekable_stream(blobs):
    data = payload(300_000)
    blobs.put_bytes(NAME, data)
    assert blobs.exists(NAME)
    with blobs.open(NAME) as stream:
        assert stream.seekable()
        assert stream.read() == data
        stream.seek(123_456)
        assert stream.read(1000) == data[123_456:124_456]
        assert stream.seek(0, os.SEEK_END) == len(data)
        stream.seek(-10, os.SEEK_END)
        assert stream.read() == data[-10:]
    blobs.put_bytes(NAME, b"shorter")  # replaced whole
    assert read(blobs, NAME) == b"shorter"
    blobs.put_bytes("empty", b"")
    assert blobs.exists("empty") and read(blobs, "empty") == b""


def test_nothing_there(blobs, tmp_path):
    blobs.put_bytes("inputs/t1/a.png", b"png")
    dest = tmp_path / "dest.png"
    for missing in ("results/none.mp4", "inputs/t1/b.png", "inputs/t1", "inputs"):  # a prefix is not a blob
        assert not blobs.exists(missing), missing
        assert blobs.open(missing) is None, missing
        assert blobs.fetch(missing, dest) is False, missing
        assert not dest.exists()


def test_put_file_stores_a_finished_file(blobs, tmp_path):
    source = tmp_path / "scratch" / "out.mp4"
    source.parent.mkdir()
    data = payload(200_000)
    source.write_bytes(data)
    blobs.put_file(NAME, source)
    assert blobs.exists(NAME) and read(blobs, NAME) == data
    source.write_bytes(b"the scratch room is reused")  # the stored blob is the store's own now
    assert read(blobs, NAME) == data
    source.write_bytes(b"second render")
    blobs.put_file(NAME, source)  # replaced
    assert read(blobs, NAME) == b"second render"


def test_put_file_from_another_filesystem(blobs, elsewhere):
    source = elsewhere / "out.mp4"
    data = payload(3_000_000, seed=2)
    source.write_bytes(data)
    blobs.put_file(NAME, source)
    assert read(blobs, NAME) == data
    source.write_bytes(b"reused")
    assert read(blobs, NAME) == data


def test_fetch_writes_the_blob_into_a_local_file(blobs, tmp_path, elsewhere):
    data = payload(500_000, seed=3)
    blobs.put_bytes("inputs/t1/ref.mp4", data)
    for dest in (tmp_path / "scratch" / "ref.mp4", elsewhere / "ref.mp4"):  # this filesystem, and another
        dest.parent.mkdir(exist_ok=True)
        assert blobs.fetch("inputs/t1/ref.mp4", dest) is True
        assert dest.read_bytes() == data
    blobs.delete("inputs/t1/ref.mp4")  # the fetched copies do not depend on the blob
    assert (tmp_path / "scratch" / "ref.mp4").read_bytes() == data and (elsewhere / "ref.mp4").read_bytes() == data


def test_fetch_replaces_what_dest_held_and_leaves_every_blob_as_it_was(blobs, tmp_path):
    blobs.put_bytes("a", b"AAAA")
    blobs.put_bytes("b", b"BB")
    (tmp_path / "job").mkdir()
    dest = tmp_path / "job" / "input"
    assert blobs.fetch("a", dest) and blobs.fetch("b", dest)  # the second fetch replaces the first
    assert dest.read_bytes() == b"BB" and read(blobs, "a") == b"AAAA" and read(blobs, "b") == b"BB"
    assert [p.name for p in dest.parent.iterdir()] == ["input"]  # no temporary file left beside it


def test_children_are_the_names_directly_under_a_prefix(blobs):
    for name in ("inputs/t1/a.png", "inputs/t1/b.png", "inputs/t2/c.png", "inputs/t10/d.png", "inputs/top.bin",
                 "results/t1.mp4"):  # fmt: skip
        blobs.put_bytes(name, b"x")
    assert sorted(blobs.children("inputs")) == ["t1", "t10", "t2", "top.bin"]
    assert sorted(blobs.children("inputs/t1")) == ["a.png", "b.png"]
    assert blobs.children("inputs/t") == []  # a prefix is whole path segments, not the start of a name
    assert blobs.children("nothing") == []
    assert blobs.children("inputs/top.bin") == []  # a blob has no children


def test_delete_a_blob_a_prefix_or_nothing(blobs):
    for name in ("inputs/t1/a.png", "inputs/t1/deep/b.png", "inputs/t10/c.png", "inputs/t2/d.png", NAME):
        blobs.put_bytes(name, b"x")
    blobs.delete(NAME)
    assert not blobs.exists(NAME) and blobs.open(NAME) is None
    blobs.delete("inputs/t1")  # everything under it, and only that (not inputs/t10)
    assert not blobs.exists("inputs/t1/a.png") and not blobs.exists("inputs/t1/deep/b.png")
    assert blobs.children("inputs/t1") == [] and "t1" not in blobs.children("inputs")
    assert blobs.exists("inputs/t10/c.png") and blobs.exists("inputs/t2/d.png")
    blobs.delete(NAME)  # nothing there: no error
    blobs.delete("inputs/t1")
    blobs.delete("never/was")
    assert read(blobs, "inputs/t2/d.png") == b"x"
    blobs.delete("inputs/t2/d.png")  # the last blob under a prefix: the prefix is gone too, as in an object store
    assert blobs.children("inputs") == ["t10"]


ESCAPES = ("../x", "a/../../x", "results/../../x", "..")


def test_names_cannot_leave_the_store(blobs, tmp_path):
    blobs.put_bytes("inputs/t1/a.png", b"kept")
    source = tmp_path / "source"
    source.write_bytes(b"data")
    dest = tmp_path / "dest"
    operations = (("put_bytes", b"data"), ("put_file", source), ("fetch", dest), ("open",), ("exists",),
                  ("children",), ("delete",))  # fmt: skip
    for name in (*ESCAPES, str(tmp_path / "x")):  # up and out, or an absolute path
        for method, *args in operations:
            with pytest.raises(ValueError):
                getattr(blobs, method)(name, *args)
    for whole_store in ("", ".", "inputs/.."):  # nor can a delete take the whole store
        with pytest.raises(ValueError):
            blobs.delete(whole_store)
    assert not (tmp_path / "x").exists() and not dest.exists()
    assert source.read_bytes() == b"data"
    assert read(blobs, "inputs/t1/a.png") == b"kept"


def test_download_url(blobs, url):
    blobs.put_bytes(NAME, b"video")
    signed = blobs.download_url(NAME, int(time.time()) + 3600)
    if url.startswith("file://"):
        assert signed is None  # r2v serves local files under its own signed URLs
    else:
        assert signed.startswith(("https://", "http://"))


# --- atomic writes -----------------------------------------------------------------------------------------------


def test_readers_see_a_whole_blob_or_none_while_it_is_rewritten(blobs):
    versions = [payload(4 << 20, seed=s) for s in range(1, 4)]
    done = threading.Event()
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            for version in versions * 3:
                blobs.put_bytes(NAME, version)
        except BaseException as exc:  # seen by the test, not lost in the thread
            failure.append(exc)
        finally:
            done.set()

    seen: list = []
    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        data = read(blobs, NAME)
        seen.append(None if data is None else versions.index(data) if data in versions else f"{len(data)} bytes")
    thread.join()
    assert not failure
    assert {s for s in seen if not isinstance(s, int) and s is not None} == set()  # no torn or mixed read
    assert read(blobs, NAME) == versions[-1]


def _write_through_a_pipe(blobs: BlobStore, fifo: Path, data: bytes) -> tuple[int, int]:
    """A child process that stores `fifo` under NAME while this process feeds it `data`, and is then killed in the
    middle of the write: it has read all but the last pipe's worth (64 KiB), and waits for an end that never comes.
    Returns the child's pid and this side of the pipe."""
    os.mkfifo(fifo)
    feed = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # this side reads too, so the child's open never blocks
    pid = os.fork()
    if pid == 0:  # the child: a writer that will die mid-write
        try:
            blobs.put_file(NAME, fifo)
        finally:
            os._exit(0)
    view = memoryview(data)
    while view:
        ready = select.select([], [feed], [], 60)[1]  # writable once the child has read what came before
        assert ready, "the writer stopped reading"
        try:
            view = view[os.write(feed, view[:65536]) :]
        except BlockingIOError:
            continue
    return pid, feed


@pytest.mark.parametrize("replacing", [False, True], ids=["new blob", "replacing one"])
def test_a_write_cut_short_is_never_seen_and_leaves_nothing_behind(blobs, url, backend, elsewhere, replacing):
    old, new = payload(100_000, seed=4), payload(8 << 20, seed=5)
    finished = {"results/other.mp4"}
    blobs.put_bytes("results/other.mp4", b"other")
    if replacing:
        blobs.put_bytes(NAME, old)
        finished.add(NAME)

    def as_before() -> None:
        if replacing:
            assert read(blobs, NAME) == old
        else:
            assert not blobs.exists(NAME) and blobs.open(NAME) is None
        assert sorted(blobs.children("results")) == sorted(n.split("/")[1] for n in finished)

    pid, feed = _write_through_a_pipe(blobs, elsewhere / "source.mp4", new)
    try:
        as_before()  # in the middle of the write (the child waits for the rest of its source)
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(feed)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL  # it died mid-write, unfinished
    as_before()  # after its death
    assert STORAGE_CONTENTS[backend](url) > finished, "the killed write left nothing: this test proves nothing"
    blobs.remove_partial_writes()
    assert STORAGE_CONTENTS[backend](url) == finished
    as_before()
    assert read(blobs, "results/other.mp4") == b"other"
    blobs.put_bytes(NAME, b"after the restart")  # the store still takes writes
    assert read(blobs, NAME) == b"after the restart"
    blobs.remove_partial_writes()  # and a second cleanup, with nothing to clean, keeps every finished blob
    assert STORAGE_CONTENTS[backend](url) == finished | {NAME}
