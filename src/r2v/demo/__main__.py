"""`make demo`: the user guide's multi-subject example, end to end, on this machine.

Makes the reference media, starts `r2v serve` on loopback, submits the example through the official dashscope
SDK (which uploads the local files itself), waits, saves the MP4 and prints its path."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from r2v.demo.assets import make_guide_assets
from r2v.demo.guide import PROMPT, multi_subject_media


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _usage(base: str, key: str, task_id: str) -> dict:
    """The usage as the server answered it. The SDK's usage object adds fields of its own with default values
    (video_count 1, video_duration 0, video_ratio ""), which r2v never sent: read the task's answer instead."""
    answer = httpx.get(f"{base}/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    answer.raise_for_status()
    return answer.json().get("usage", {})


def main() -> int:
    out_dir = Path("demo-output").resolve()
    files = make_guide_assets(out_dir / "assets")
    print(f"reference media written to {out_dir / 'assets'}")

    key = "sk-demo-" + secrets.token_hex(8)
    port = _free_port()
    env = {**os.environ, "R2V_API_KEYS": key}
    log = open(out_dir / "server.log", "w")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen(
        [sys.executable, "-m", "r2v", "serve", "--port", str(port), "--data-dir", str(out_dir / "data")],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print((out_dir / "server.log").read_text(), file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(f"r2v is serving on {base}")

        import dashscope
        from dashscope import VideoSynthesis

        dashscope.base_http_api_url = base + "/api/v1"
        media = multi_subject_media(lambda name: str(files[name]))  # local files in place of the guide's CDN URLs
        print("please wait...")
        rsp = VideoSynthesis.call(
            api_key=key,
            model="wan2.7-r2v",
            media=media,
            resolution="720P",
            ratio="16:9",
            duration=10,
            prompt_extend=False,
            watermark=True,
            prompt=PROMPT,
        )
        if rsp.status_code != 200 or rsp.output.task_status != "SUCCEEDED":
            print(f"Failed, status_code: {rsp.status_code}, code: {rsp.code}, message: {rsp.message}", file=sys.stderr)
            return 1
        video = out_dir / "r2v-demo.mp4"
        video.write_bytes(httpx.get(rsp.output.video_url, timeout=60).content)
        print(f"task {rsp.output.task_id}: {rsp.output.task_status}, usage {_usage(base, key, rsp.output.task_id)}")
        print(video)
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
