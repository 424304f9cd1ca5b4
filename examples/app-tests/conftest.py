"""The app's own conftest: r2v's pytest plugin gives every test an emulator (`r2v_emulator`), reset for it."""

import dashscope
import pytest

pytest_plugins = ["r2v.testing"]


@pytest.fixture
def service(r2v_emulator):
    """The video API as the app sees it: the SDK pointed at the emulator instead of the cloud."""
    dashscope.base_http_api_url = r2v_emulator.base_url
    return r2v_emulator
