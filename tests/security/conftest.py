"""A real `callplane serve` (subprocess) and a customer webhook server per module."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.interop.harness import CallplaneServer, WebhookServer

NONCE_TTL = 3  # seconds: short, so the stale-nonce test waits little


@dataclass(frozen=True)
class SubAccount:
    auth_id: str
    auth_token: str

    @property
    def basic(self) -> str:
        return base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()


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


@pytest.fixture(scope="module")
def sub_account(callplane: CallplaneServer) -> SubAccount:
    created = callplane.api("POST", "Subaccount/", json={"name": "tenant", "enabled": True})
    return SubAccount(created["auth_id"], created["auth_token"])
