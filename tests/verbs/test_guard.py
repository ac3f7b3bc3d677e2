"""The guards of this directory hold: no socket, no process, and time is virtual."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from pathlib import Path

import pytest

from callplane.verbs import EXECUTORS
from tests.verbs.loop import TIME_LIMIT, StuckTest, VirtualLoop


async def test_the_loop_is_virtual_and_sleeping_costs_no_time() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualLoop)
    start = loop.time()
    await asyncio.sleep(3600 / 12)
    assert loop.time() - start == pytest.approx(300)


def test_opening_a_socket_is_refused(no_sockets: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(PermissionError):
        udp.bind(("127.0.0.1", 0))
    with pytest.raises(PermissionError):
        subprocess.run(["true"], check=False)
    assert no_sockets == ["socket.bind", "subprocess"]
    no_sockets.clear()  # seen; the guard itself would fail this test otherwise


async def test_asyncio_connections_are_refused(no_sockets: list[str]) -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(PermissionError):
        await asyncio.open_connection("127.0.0.1", 9)
    with pytest.raises(PermissionError):
        await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    assert no_sockets == ["loop.create_connection", "loop.create_server"]
    no_sockets.clear()


def test_a_test_that_waits_forever_fails_instead_of_hanging() -> None:
    loop = VirtualLoop()
    try:
        with pytest.raises(StuckTest):
            loop.run_until_complete(asyncio.sleep(TIME_LIMIT + 1))
    finally:
        loop.close()


def test_every_executor_is_run_by_a_test_here() -> None:
    """Each verb of ``EXECUTORS`` is run as ``EXECUTORS[Verb](...)`` by some test of this
    directory, so a new executor needs an in-memory test to join the table."""
    here = Path(__file__).parent
    source = "".join(path.read_text() for path in here.glob("test_*.py"))
    run = set(re.findall(r"EXECUTORS\[(\w+)\]\(", source))
    assert {verb.__name__ for verb in EXECUTORS} <= run
