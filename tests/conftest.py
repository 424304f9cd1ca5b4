from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from r2v.demo.assets import make_guide_assets
from r2v.demo.guide import multi_subject_media
from tests.helpers import MediaServer, ServerProcess

# The throwaway S3 server (SeaweedFS) of the multi-machine tests: the `s3_server` session fixture.
pytest_plugins = ["tests.s3server"]

KEY = "sk-test-alpha"
OTHER_KEY = "sk-test-beta"


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_tests():
    yield
    ServerProcess.kill_all()


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> dict[str, Path]:
    return make_guide_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def media(assets) -> MediaServer:
    server = MediaServer(next(iter(assets.values())).parent)
    yield server
    server.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> ServerProcess:
    proc = ServerProcess(tmp_path_factory.mktemp("serve") / "data", f"{KEY},{OTHER_KEY}", workers=2).start()
    yield proc
    proc.stop()


@pytest.fixture
def sdk(server):
    """The official dashscope SDK pointed at the test server."""
    import dashscope

    previous = dashscope.base_http_api_url
    dashscope.base_http_api_url = server.api
    yield dashscope
    dashscope.base_http_api_url = previous


def data_uri(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def guide_media(media: MediaServer, assets: dict[str, Path]) -> list[dict]:
    """The guide's multi-subject media list, its URLs pointing at the loopback media server."""
    return multi_subject_media(lambda name: media.url(assets[name].name))


# -- browser tests (the playground): pytest-playwright driving Debian's Chromium -----------------------------------

CHROMIUM = "/usr/bin/chromium"  # tools/system-packages.sh installs it; `playwright install` cannot download here
ARTIFACTS = pytest.StashKey[Path]()


@pytest.fixture(scope="module")
def playwright():
    """pytest-playwright's fixtures from here to `browser`, per test module instead of per session: Playwright's
    sync API keeps an event loop running while it lives, and asyncio.run() in any later test would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **options: browser_type.launch(**{**browser_type_launch_args, **options})


@pytest.fixture(scope="module")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def browser_context_args(playwright, device) -> dict:
    return dict(playwright.devices[device]) if device else {}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args) -> dict:
    """pytest-playwright's launch options, with Debian's Chromium as the browser (a missing one fails the test)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tools/system-packages.sh (apt-get install chromium fonts-liberation)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="session")
def base_url() -> None:
    """Each browser test opens its own server's URL. (Overridden because pytest-playwright's fallback for this
    fixture, a method, warns under pytest 9.)"""
    return None


@pytest.fixture(scope="session")
def artifacts(request) -> Path:
    """Where browser tests save their screenshots: $R2V_TEST_ARTIFACTS or test-artifacts/ (git-ignored)."""
    folder = Path(os.environ.get("R2V_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[ARTIFACTS] = folder
    return folder


def pytest_terminal_summary(terminalreporter, config) -> None:
    folder = config.stash.get(ARTIFACTS, None)
    if folder is not None:
        terminalreporter.write_line(f"browser test screenshots: {folder}")


TIERS = ("unit", "http", "server", "engine")  # pyproject.toml's markers: how much of the system a test runs


def pytest_collection_modifyitems(items) -> None:
    """Every test declares its tier, so that `-m unit` (or any tier) selects a well-defined part of the suite."""
    untiered = [item.nodeid for item in items if not any(item.get_closest_marker(tier) for tier in TIERS)]
    if untiered:
        raise pytest.UsageError(f"tests without a tier marker ({', '.join(TIERS)}): {untiered[:5]}")
