"""Verb executors run in memory: a virtual-time loop, and no socket or subprocess at all."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callplane.calls.call import Call
from tests.verbs.fakes import FakeLeg, FakeServices, new_call
from tests.verbs.loop import VirtualLoop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    return {"virtual": VirtualLoop}


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail the test if anything binds, connects or sends on a socket, or starts a process.

    The attempt also raises PermissionError where it happens, but code may catch
    that (an RTP bind is retried, a webhook failure is noted), so the test fails
    at teardown whatever the code did with it. The loop's self-pipe is a
    ``socketpair`` made without bind or connect, so the loop itself keeps working.
    """
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*args: object, **kwargs: object) -> Any:
            attempts.append(what)
            raise PermissionError(f"tests/verbs run without sockets: {what}")

        return refused

    def refuse_async(what: str) -> Any:
        sync = refuse(what)

        async def refused(*args: object, **kwargs: object) -> Any:
            return sync()

        return refused

    for name in ("bind", "connect", "connect_ex", "sendto", "listen"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}"))
    for name in (
        "create_connection",
        "create_server",
        "create_datagram_endpoint",  # VirtualLoop's own in-memory one overrides this
        "create_unix_connection",
        "create_unix_server",
        "subprocess_exec",
        "subprocess_shell",
    ):
        monkeypatch.setattr(asyncio.BaseEventLoop, name, refuse_async(f"loop.{name}"))
    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("subprocess"))
    yield attempts
    assert not attempts, f"a verb test used the network or a process: {attempts}"


@pytest.fixture
def services(tmp_path: Path) -> FakeServices:
    return FakeServices(tmp_path)


@pytest.fixture
def leg() -> FakeLeg:
    return FakeLeg()


@pytest.fixture
def call(services: FakeServices, leg: FakeLeg) -> Call:
    return new_call(services, leg)
