"""Issue 12, finding 9: half-open SIP/TCP connections were never timed out or capped.

Real sockets from 127.0.0.1 (and 127.0.0.2) against a SipTransport with short
limits; every wait is on a connection's close (EOF or reset), never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from callplane.net.sip_tcp import TcpLimits
from callplane.net.sip_transport import SipTransport
from callplane.sip.message import Response, parse_message
from tests.sip.messages import request

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def _server(limits: TcpLimits) -> AsyncIterator[SipTransport]:
    transport = SipTransport(lambda event: None, tcp_limits=limits)
    await transport.start("127.0.0.1", 0)
    try:
        yield transport
    finally:
        await transport.close()


async def _connect(server: SipTransport, source: str = "127.0.0.1") -> Stream:
    host, port = server.local_address
    return await asyncio.open_connection(host, port, local_addr=(source, 0))


async def _closed(stream: Stream) -> None:
    """Returns when the server closed or reset the connection."""
    reader = stream[0]
    with contextlib.suppress(ConnectionResetError):
        while await reader.read(65536):
            pass


async def _options(stream: Stream, branch: str) -> Response:
    reader, writer = stream
    writer.write(request("OPTIONS", branch=branch, host="127.0.0.1").replace(b"UDP", b"TCP"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    response = parse_message(head)
    assert isinstance(response, Response)
    return response


async def _until_closed(
    waits: list[asyncio.Future[None]], count: int
) -> list[asyncio.Future[None]]:
    """Wait until ``count`` of the connections closed; the still open ones' waits."""
    closed = 0
    while closed < count:
        done, _ = await asyncio.wait(waits, timeout=10, return_when="FIRST_COMPLETED")
        assert done, f"only {closed} of {count} connections closed"
        closed += len(done)
        waits = [w for w in waits if w not in done]
    assert closed == count
    return waits


def _close_all(streams: list[Stream]) -> None:
    for _, writer in streams:
        writer.close()


@pytest.mark.serial
async def test_500_half_open_connections_are_capped_then_timed_out() -> None:
    limits = TcpLimits(first_message_timeout=1.0, max_per_source=32)
    async with _server(limits) as server:
        streams = [await _connect(server) for _ in range(500)]
        try:
            waits = [asyncio.ensure_future(_closed(s)) for s in streams]
            await _until_closed(waits, 500)
            # over the cap: refused at once (more if the first 32 timed out meanwhile);
            # the rest: closed by the first-message timeout
            assert 500 - 32 <= server.tcp.refused < 500
            assert len(server.tcp) == 0
        finally:
            _close_all(streams)


async def test_over_the_per_source_cap_is_closed_at_once() -> None:
    limits = TcpLimits(first_message_timeout=60, max_per_source=4, max_connections=100)
    async with _server(limits) as server:
        streams = [await _connect(server) for _ in range(6)]
        try:
            waits = [asyncio.ensure_future(_closed(s)) for s in streams]
            waits = await _until_closed(waits, 2)  # the two over the cap
            assert server.tcp.per_source["127.0.0.1"] == 4
            other = await _connect(server, "127.0.0.2")  # the cap is per source address
            streams.append(other)
            assert (await _options(other, "z9hG4bK-other")).status == 200
            for wait in waits:
                wait.cancel()
        finally:
            _close_all(streams)


async def test_over_the_total_cap_is_closed_at_once() -> None:
    limits = TcpLimits(first_message_timeout=60, max_per_source=10, max_connections=3)
    async with _server(limits) as server:
        streams = [await _connect(server) for _ in range(3)]
        try:
            extra = await _connect(server, "127.0.0.2")
            streams.append(extra)
            await asyncio.wait_for(_closed(extra), 5)
            assert len(server.tcp) == 3
        finally:
            _close_all(streams)


async def test_a_slow_client_is_closed_and_a_talking_one_kept() -> None:
    limits = TcpLimits(first_message_timeout=0.3, idle_timeout=60)
    async with _server(limits) as server:
        slow, talking = await _connect(server), await _connect(server)
        try:
            slow[1].write(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1")
            assert (await _options(talking, "z9hG4bK-first")).status == 200
            await asyncio.wait_for(_closed(slow), 5)
            # past the first-message timeout, the connection that talked still works
            assert (await _options(talking, "z9hG4bK-second")).status == 200
            assert len(server.tcp) == 1
        finally:
            _close_all([slow, talking])


async def test_an_idle_connection_is_closed() -> None:
    limits = TcpLimits(first_message_timeout=5, idle_timeout=0.3)
    async with _server(limits) as server:
        stream = await _connect(server)
        try:
            assert (await _options(stream, "z9hG4bK-idle")).status == 200
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(_closed(stream), 5)
            assert asyncio.get_running_loop().time() - started >= 0.25
        finally:
            _close_all([stream])


@pytest.mark.parametrize("method", ["MESSAGE", "SUBSCRIBE", "REFER", "PRACK"])
async def test_allow_lists_only_handled_methods(method: str) -> None:
    async with _server(TcpLimits()) as server:
        stream = await _connect(server)
        try:
            options = await _options(stream, "z9hG4bK-allow")
            allowed = set(options.headers.get_all("Allow"))
            assert {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"} <= allowed
            assert method not in allowed
            reader, writer = stream
            writer.write(request(method, branch="z9hG4bK-m", host="127.0.0.1"))
            answer = parse_message(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
            assert isinstance(answer, Response) and answer.status == 501
            assert method not in answer.headers.get_all("Allow")
        finally:
            _close_all([stream])
