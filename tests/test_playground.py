"""The web playground at `/`, driven in headless Chromium (Debian's, through pytest-playwright) against a real
`r2v serve`: references uploaded through the getPolicy + form flow, a prompt with a dialogue line, Generate,
progress, a video that plays, the plan's timeline, history, cancel, errors beside their fields, and user text that
stays text. Screenshots at desktop and phone widths are saved in the `artifacts` folder.

Every wait is one of Playwright's auto-waiting expectations with a generous timeout: no sleeps."""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import re
import socket
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import KEY, OTHER_KEY
from tests.helpers import ServerProcess, wait_status

pytestmark = pytest.mark.server

RENDER_MS = 240_000  # a render on a noisy 2-core machine, with room to spare
UI_MS = 30_000  # anything else the page does
CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
XSS = '<img src=x onerror="window.__xss=1">'
SCRIPT = "镜头1：图1对视频1说：“我们去看花吧。” 镜头2：视频1笑着说：“好啊，走吧！”"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("playground") / "data", f"{KEY},{OTHER_KEY}", workers=1).start()
    yield server
    server.stop()


@pytest.fixture
def page(page: Page, artifacts) -> Page:
    """pytest-playwright's page, failing the test on any uncaught script error or Content-Security-Policy report."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_default_timeout(UI_MS)
    expect.set_options(timeout=UI_MS)
    yield page
    assert not problems, problems


def open_playground(page: Page, server: ServerProcess, key: str = KEY) -> None:
    answer = page.goto(server.base + "/")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_label("API key", exact=True).blur()  # saved on change


def drop_files(page: Page, target, paths) -> None:
    """Drop files on `target` as a user dragging them from the desktop would."""
    files = [{"name": p.name, "type": mimetypes.guess_type(p.name)[0] or "", "data": base64.b64encode(p.read_bytes()).decode()}
             for p in paths]  # fmt: skip
    transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return transfer;
        }""",
        files,
    )
    target.dispatch_event("drop", {"dataTransfer": transfer})


def add_image(page: Page, path) -> None:
    page.get_by_label("References", exact=True).set_input_files(path)
    expect(page.locator("#reference-list .ref-state").last).to_have_text("uploaded")


def choose_small_render(page: Page, duration: int = 2) -> None:
    page.get_by_label("Resolution", exact=True).select_option("720P")
    page.get_by_label("Duration (s)", exact=True).fill(str(duration))


def record_progress(page: Page) -> None:
    """Keep every value the <progress> bar shows (the attribute changes with the property)."""
    page.evaluate("""() => {
        const bar = document.getElementById("progress");
        window.__progress = [];
        new MutationObserver(() => window.__progress.push(bar.value))
            .observe(bar, { attributes: true, attributeFilter: ["value"] });
    }""")


def shown_task_id(page: Page) -> str:
    expect(page.locator("#task-id")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    return page.locator("#task-id").text_content()


def screenshot(page: Page, artifacts, name: str, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)


def test_references_prompt_generate_progress_video_plan_history(site, page: Page, assets, artifacts):
    open_playground(page, site)
    assert page.evaluate("localStorage.getItem('r2v.apiKey')") == KEY  # kept in the browser

    # Two references: an image picked with the file input (with a voice), a video dropped on the drop zone.
    page.get_by_label("References", exact=True).set_input_files(assets["girl"])
    drop_files(page, page.locator("#drop-zone"), [assets["boy_video"]])
    page.get_by_label("Voice for girl.png", exact=True).set_input_files(assets["girl_voice"])
    expect(page.locator("#reference-list .ref-state")).to_have_text(["uploaded", "uploaded"])
    expect(page.locator("#reference-list .ref-token")).to_have_text(["图1", "视频1"])
    assert page.locator("#reference-list img.thumb").evaluate("img => img.naturalWidth") == 720
    assert page.locator("#reference-list video.thumb").evaluate("v => v.videoWidth") > 0

    # Clicking a reference puts its name into the prompt, at the caret.
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.press_sequentially("镜头1：")
    page.get_by_role("button", name="Insert 图1 into the prompt", exact=True).click()
    prompt.press_sequentially("对")
    page.get_by_role("button", name="Insert 视频1 into the prompt", exact=True).click()
    prompt.press_sequentially("说：“我们去看花吧。” 镜头2：")
    page.get_by_role("button", name="Insert 视频1 into the prompt", exact=True).click()
    prompt.press_sequentially("笑着说：“好啊，走吧！”")
    expect(prompt).to_have_value(SCRIPT)
    choose_small_render(page, duration=4)

    # The exact request, to copy: oss:// URLs and the header they need, and the same for the SDK.
    curl = page.locator("#curl-code")
    expect(curl).to_contain_text("X-DashScope-OssResourceResolve: enable")
    expect(curl).to_contain_text('"type": "reference_video"')
    expect(curl).not_to_contain_text("not uploaded yet")
    page.get_by_role("tab", name="Python (dashscope)").click()
    expect(page.locator("#python-code")).to_contain_text('"reference_voice": "oss://dashscope-instant/')

    record_progress(page)
    polls = []
    page.on("response", lambda r: polls.append(r) if re.search(r"/api/v1/tasks/[0-9a-f-]{36}$", r.url) else None)
    page.get_by_role("button", name="Generate", exact=True).click()
    task_id = shown_task_id(page)
    expect(page.locator("#task-status")).to_have_text("SUCCEEDED", timeout=RENDER_MS)

    # The bar rose to 100 and never went back, showing every value the server reported on the way.
    shown = page.evaluate("window.__progress")
    told = [r.json()["output"]["progress"] for r in polls]
    assert shown[0] < 100 and shown[-1] == 100 and shown == sorted(shown), shown
    assert set(told) <= set(shown) and told[-1] == 100, (told, shown)
    expect(page.locator("#progress-text")).to_have_text("100%")

    # The video plays past its first second; the download link is the signed result URL.
    video = page.locator("#video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('video').currentTime > 1", timeout=UI_MS)
    href = page.get_by_role("link", name="Download MP4").get_attribute("href")
    assert href.startswith(site.base) and "Signature=" in href
    expect(page.locator("#usage")).to_contain_text("output_video_duration")

    # The plan: shots on a timeline and the dialogue line at its time; the actual prompt (prompt extend is on).
    expect(page.locator("#plan .shot")).to_have_count(2)
    expect(page.locator("#plan .shot").first).to_contain_text("图1, 视频1")
    lines = page.locator("#plan .line")
    expect(lines.locator(".line-text")).to_have_text(["我们去看花吧。", "好啊，走吧！"])
    expect(lines.first.locator(".line-when")).to_have_text(re.compile(r"^图1 · \d+\.\d s"))
    expect(lines.last.locator(".line-when")).to_have_text(re.compile(r"^视频1 · \d+\.\d s"))
    expect(page.locator("#actual-prompt")).to_contain_text("镜头2")
    expect(page.locator("#orig-prompt")).to_have_text(SCRIPT)

    # The task is in the history.
    row = page.locator(f'#history-list [data-task-id="{task_id}"]')
    expect(row).to_contain_text("SUCCEEDED")
    expect(row).to_contain_text("wan2.7-r2v")

    screenshot(page, artifacts, "playground-desktop", 1280, 800)
    screenshot(page, artifacts, "playground-phone", 390, 844)
    page.set_viewport_size({"width": 1280, "height": 1000})  # the README's picture (docs/playground.png)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "playground-readme.png")


def test_the_python_code_shown_runs_as_is(site, page: Page, assets, tmp_path):
    """The Python snippet is the request: run with the official SDK, it renders what the form describes."""
    open_playground(page, site)
    add_image(page, assets["guitar"])
    page.get_by_role("button", name="Insert 图1 into the prompt", exact=True).click()
    page.get_by_label("Prompt", exact=True).press_sequentially("在舞台上")
    choose_small_render(page)
    page.get_by_label("Seed", exact=True).fill("42")
    page.get_by_role("tab", name="Python (dashscope)").click()
    code = page.locator("#python-code")
    expect(code).to_contain_text("seed=42,")
    script = tmp_path / "snippet.py"
    script.write_text(code.text_content())
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=RENDER_MS / 1000,
                         env={**os.environ, "DASHSCOPE_API_KEY": KEY})  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    status, url = ran.stdout.split()
    assert status == "SUCCEEDED" and url.startswith(site.base)


def test_an_error_is_shown_beside_the_field_it_names(site, page: Page, assets):
    open_playground(page, site)
    add_image(page, assets["girl"])
    creates: list[str] = []
    page.on("request", lambda r: creates.append(r.url) if r.url.endswith(CREATE) else None)

    # The form's own checks (the spec's limits) stop the request and say which field.
    page.get_by_label("Prompt", exact=True).fill("图1在唱歌")
    page.get_by_label("Duration (s)", exact=True).fill("11")
    page.get_by_role("button", name="Generate", exact=True).click()
    duration = page.get_by_label("Duration (s)", exact=True)
    expect(duration).to_have_attribute("aria-invalid", "true")
    expect(duration).to_have_accessible_description(re.compile(r"parameters\.duration: .*2 to 10"))
    assert creates == []

    # The server's error names input.prompt (no 图3 among the references): shown beside the prompt.
    duration.fill("2")
    page.get_by_label("Prompt", exact=True).fill("图3在唱歌")
    page.get_by_role("button", name="Generate", exact=True).click()
    prompt = page.get_by_label("Prompt", exact=True)
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(prompt).to_have_accessible_description(re.compile(r"input\.prompt: the prompt names image 3 \(图3\)"))
    expect(duration).not_to_have_attribute("aria-invalid", "true")
    assert len(creates) == 1

    # A key the server does not know: beside the API key.
    page.get_by_label("API key", exact=True).fill("sk-not-a-key")
    page.get_by_label("Prompt", exact=True).fill("图1在唱歌")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_label("API key", exact=True)).to_have_accessible_description(
        re.compile("Invalid API-key provided")
    )


def test_each_model_shows_its_own_parameters_and_names(site, page: Page, assets):
    """wan2.7 names images and videos apart (图N, 视频N) and takes a first frame, which the prompt cannot name and
    which sets the aspect; wan2.6 names every reference characterN and sends reference_urls with a size."""
    open_playground(page, site)
    add_image(page, assets["girl"])
    add_image(page, assets["first_frame"])
    page.get_by_label("Role of first-frame.png", exact=True).select_option("first_frame")
    expect(page.locator("#reference-list .ref-token")).to_have_text(["图1", "first frame"])
    expect(page.get_by_label("Ratio", exact=True)).to_be_disabled()
    body = lambda: json.loads(page.locator("#curl-code").text_content().split("-d '", 1)[1].split("'\n", 1)[0])  # noqa: E731
    expect(page.locator("#curl-code")).to_contain_text('"type": "first_frame"')
    assert "ratio" not in body()["parameters"]
    assert [m["type"] for m in body()["input"]["media"]] == ["reference_image", "first_frame"]

    page.get_by_label("Model", exact=True).select_option("wan2.6-r2v-flash")
    for hidden in ("Resolution", "Ratio", "Prompt extend"):
        expect(page.get_by_label(hidden, exact=True)).to_be_hidden()
    for shown in ("Size", "Shot type", "Audio"):
        expect(page.get_by_label(shown, exact=True)).to_be_visible()
    expect(page.get_by_label("Voice for girl.png", exact=True)).to_be_hidden()  # timbre comes from videos' sound
    page.get_by_label("Role of first-frame.png", exact=True).select_option("reference")
    expect(page.locator("#reference-list .ref-token")).to_have_text(["character1", "character2"])
    page.get_by_role("button", name="Insert character2 into the prompt", exact=True).click()
    page.get_by_label("Audio", exact=True).uncheck()
    expect(page.locator("#curl-code")).to_contain_text('"reference_urls"')
    sent = body()
    assert sent["input"]["prompt"] == "character2" and len(sent["input"]["reference_urls"]) == 2
    assert sent["parameters"] == {"size": "1920*1080", "duration": 5, "shot_type": "single", "audio": False,
                                  "watermark": False}  # fmt: skip
    expect(page.get_by_label("Prompt", exact=True)).to_have_attribute("maxlength", "1500")


def test_user_text_is_shown_as_text_and_never_run(site, page: Page, assets):
    open_playground(page, site)
    add_image(page, assets["girl"])
    prompt = f"图1 {XSS} 说：“<b>hi</b>”"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    choose_small_render(page)
    page.get_by_role("button", name="Generate", exact=True).click()
    task_id = shown_task_id(page)
    expect(page.locator("#task-status")).to_have_text("SUCCEEDED", timeout=RENDER_MS)
    expect(page.locator("#plan .line-text")).to_have_text("<b>hi</b>")

    def literal_everywhere() -> None:
        expect(page.locator("#orig-prompt")).to_have_text(prompt)
        expect(page.locator("#plan .shot-text").first).to_contain_text(XSS)
        assert page.locator("img[src='x'], #task b").count() == 0  # no element was made of the text
        assert page.evaluate("window.__xss") is None  # and nothing of it ran

    literal_everywhere()
    # Reopened from the history on a fresh page: the same, as text.
    page.goto(site.base + "/")  # without the #task= of the task shown: nothing is open
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#task-empty")).to_be_visible()
    page.locator(f'#history-list [data-task-id="{task_id}"]').click()
    expect(page.locator("#task-id")).to_have_text(task_id)
    expect(page.locator("#task-status")).to_have_text("SUCCEEDED")
    literal_everywhere()


def test_cancel_a_queued_task(tmp_path, page: Page, assets):
    """One worker, held by a task whose reference never downloads (a socket that accepts and never answers): a
    task created from the page waits PENDING, deterministically, and Cancel ends it. The RUNNING one is refused."""
    server = ServerProcess(tmp_path / "data", KEY, workers=1, env={"R2V_FETCH_TIMEOUT_S": "900"}).start()
    silent = socket.create_server(("127.0.0.1", 0))  # the backlog accepts connections; nothing ever answers
    try:
        body = {"model": "wan2.7-r2v", "parameters": {"resolution": "720P", "duration": 2}, "input": {"prompt": "图1",
                "media": [{"type": "reference_image", "url": f"http://127.0.0.1:{silent.getsockname()[1]}/girl.png"}]}}  # fmt: skip
        created = httpx.post(server.api + CREATE, json=body, headers=HEADERS)
        holding = created.json()["output"]["task_id"]
        wait_status(lambda: httpx.get(f"{server.api}/tasks/{holding}", headers=HEADERS).json()["output"], {"RUNNING"})

        open_playground(page, server)
        add_image(page, assets["girl"])
        page.get_by_label("Prompt", exact=True).fill("图1在跳舞")
        choose_small_render(page)
        page.get_by_role("button", name="Generate", exact=True).click()
        queued = shown_task_id(page)
        expect(page.locator("#task-status")).to_have_text("PENDING")
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(page.locator("#task-status")).to_have_text("CANCELED")
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_hidden()
        expect(page.locator(f'#history-list [data-task-id="{queued}"]')).to_contain_text("CANCELED")

        # The running task, reopened from the history: the server refuses its cancel, and the page says why.
        page.locator(f'#history-list [data-task-id="{holding}"]').click()
        expect(page.locator("#task-status")).to_have_text("RUNNING")
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_accessible_description(
            "UnsupportedOperation: Failed to cancel the task, please confirm if the task is in PENDING status."
        )
        expect(page.locator("#task-status")).to_have_text("RUNNING")
    finally:
        silent.close()  # the held download fails at once: the worker is free again
        server.stop()


def test_page_and_files_are_served_with_their_policy(site):
    page = httpx.get(site.base + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and not re.search(r"\son[a-z]+\s*=", page.text)  # no inline script
    script = httpx.get(site.base + "/playground/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == page.headers["content-security-policy"]
    again = httpx.get(site.base + "/playground/main.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    missing = httpx.get(site.base + "/playground/..%2Fr2v.sqlite3")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert json.loads(httpx.get(site.base + "/playground/nope.js").text)["code"] == "NotFound"
    assert "/" not in httpx.get(site.base + "/openapi.json").json()["paths"]  # the page is no API operation
