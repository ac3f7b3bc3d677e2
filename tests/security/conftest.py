from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.harness import CallplaneServer, WebhookServer

NONCE_TTL = 3  # seconds: short, so the stale-nonce test waits little


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    """One server for the module; tests that get a source banned use their own 127.0.0.x."""
    extra = ("--nonce-ttl", str(NONCE_TTL))
    server = CallplaneServer(tmp_path_factory.mktemp("callplane"), extra=extra).start()
    yield server
    assert server.stop() == 0, server.logs()
