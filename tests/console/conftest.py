from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from callplane.api.console import STATIC
from tests.console.browser import CHROMIUM, CHROMIUM_ARGS, Console
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, SippUas, WebhookServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [name for name in ("sipp", str(CHROMIUM)) if shutil.which(name) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing: apt-get install sip-tester chromium (.ci/run does)"
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _stop_sipp_callees() -> Iterator[None]:
    yield
    SippUas.stop_all()


def serve(tmp_path_factory: pytest.TempPathFactory, *extra: str) -> Iterator[CallplaneServer]:
    """`callplane serve` with the built console, started with ``extra`` flags."""
    if not (STATIC / "index.html").is_file():
        pytest.fail("the console is not built: cd console && npm ci && npm run build")
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-console"), extra=extra).start()
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """The system chromium, fresh profile; never ``playwright install`` (no browser download)."""
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    tab = browser.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    tab.close()


@pytest.fixture
def console(page: Page, callplane: CallplaneServer) -> Console:
    """A tab logged in with the auth id and token."""
    ui = Console(page, f"http://127.0.0.1:{callplane.http_port}")
    ui.login(AUTH_ID, AUTH_TOKEN)
    return ui


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
