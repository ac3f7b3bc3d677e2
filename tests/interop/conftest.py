from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import plivo
import plivo.rest.client
import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, SippUas, WebhookServer
from tests.interop.pjua import UserAgent

SDK_BASE_URL_CONSTANTS = (
    "PLIVO_API_BASE_URI",
    "API_VOICE_BASE_URI",
    "API_VOICE_BASE_URI_FALLBACK_1",
    "API_VOICE_BASE_URI_FALLBACK_2",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp missing: apt-get install sip-tester (.ci/run does)")
        for item in items:
            if "interop" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _stop_sipp_callees() -> Iterator[None]:
    yield
    SippUas.stop_all()


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane")).start()
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def phone() -> Iterator[UserAgent]:
    """A PJSUA2 phone (one pjsua2 library per process: modules take turns)."""
    ua = UserAgent()
    yield ua
    ua.close()


@pytest.fixture
def phlo_client(callplane: CallplaneServer) -> Iterator[plivo.phlo.RestClient]:
    """The plivo SDK's PhloClient, pointed at the running server (its base URL only)."""
    with plivo.phlo.RestClient(AUTH_ID, AUTH_TOKEN) as client:
        client.phlo_base_uri = f"http://127.0.0.1:{callplane.http_port}/v1"
        yield client


@pytest.fixture
def sdk(callplane: CallplaneServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[plivo.RestClient]:
    """The official plivo SDK, pointed at the running server (base-URL constants only)."""
    base = f"http://127.0.0.1:{callplane.http_port}/v1/Account"
    for name in SDK_BASE_URL_CONSTANTS:
        monkeypatch.setattr(plivo.rest.client, name, base)
    with plivo.RestClient(AUTH_ID, AUTH_TOKEN) as client:
        yield client
