from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.harness import CallplaneServer, SippUas, WebhookServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp missing: apt-get install sip-tester (.ci/run does)")
        for item in items:
            if "tests/sdks" in str(item.fspath):
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
