"""SipTransport over real loopback sockets (UDP and TCP)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from callplane.net.guard import SourceGuard
from callplane.net.sip_transport import SipTransport
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import AckReceived, BadMessage, Event, RequestReceived
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response, build_response, parse_message
from tests.sip.messages import invite, request


class Uas:
    """Answers every INVITE with 100 then ``final``; records events."""

    def __init__(self, final: int = 603) -> None:
        self.final = final
        self.events: list[Event] = []
        self.transport: SipTransport | None = None

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, RequestReceived) and event.request.method == "INVITE":
            assert self.transport is not None
            endpoint = self.transport.endpoint
            self.transport.send_response(
                event.transaction, endpoint.response(event.transaction, 100)
            )
            final = endpoint.response(event.transaction, self.final)
            self.transport.send_response(event.transaction, final)


@pytest.fixture
async def uas() -> AsyncIterator[Uas]:
    handler = Uas()
    transport = SipTransport(handler, endpoint=SipEndpoint(t1=0.05))
    handler.transport = transport
    await transport.start("127.0.0.1", 0)
    yield handler
    await transport.close()


def _address(uas: Uas) -> tuple[str, int]:
    assert uas.transport is not None
    return uas.transport.local_address


async def _udp_exchange(sock: socket.socket, data: bytes, count: int) -> list[Response]:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, data)
    responses = []
    for _ in range(count):
        reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)
        message = parse_message(reply)
        assert isinstance(message, Response)
        responses.append(message)
    return responses


def _udp_socket(dest: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    sock.connect(dest)
    return sock


def _ack(response: Response, transport: str = "UDP") -> bytes:
    to = response.headers.get("To") or ""
    ack = request("ACK", branch="z9hG4bK-inv-1", host="127.0.0.1")
    ack = ack.replace(b"SIP/2.0/UDP", f"SIP/2.0/{transport}".encode())
    return ack.replace(b"To: <sip:+15551234567@192.0.2.20>", f"To: {to}".encode())


async def test_invite_over_udp(uas: Uas) -> None:
    with _udp_socket(_address(uas)) as sock:
        trying, decline = await _udp_exchange(sock, invite(host="127.0.0.1"), 2)
        assert (trying.status, decline.status) == (100, 603)
        assert decline.top_via.params["rport"] == str(sock.getsockname()[1])
        (again,) = await _udp_exchange(sock, b"", 1)  # Timer G retransmission
        assert again.status == 603
        await asyncio.get_running_loop().sock_sendall(sock, _ack(decline))
        await asyncio.sleep(0.3)
    assert [type(e) for e in uas.events] == [RequestReceived]


async def test_garbage_over_udp_gets_400_or_nothing(uas: Uas) -> None:
    with _udp_socket(_address(uas)) as sock:
        loop = asyncio.get_running_loop()
        for junk in (b"\x00\x01garbage", b"INVITE\r\n\r\n", b"\r\n\r\n"):
            await loop.sock_sendall(sock, junk)
        bad = invite(host="127.0.0.1").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
        (response,) = await _udp_exchange(sock, bad, 1)
        assert response.status == 400
        options_request = request("OPTIONS", host="127.0.0.1").replace(b";branch", b";rport;branch")
        (options,) = await _udp_exchange(sock, options_request, 1)
        assert options.status == 200
    assert sum(isinstance(e, BadMessage) for e in uas.events) == 3


async def _tcp_read(reader: asyncio.StreamReader) -> Response:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    message = parse_message(head)
    assert isinstance(message, Response)
    length = int(message.headers.get("Content-Length") or 0)
    if length:
        message.body = await reader.readexactly(length)
    return message


async def test_invite_over_tcp_split_and_joined(uas: Uas) -> None:
    reader, writer = await asyncio.open_connection(*_address(uas))
    data = invite(host="127.0.0.1", transport="TCP")
    writer.write(b"\r\n\r\n" + data[:50])
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(2), 2) == b"\r\n"  # keep-alive pong
    await asyncio.sleep(0.05)
    writer.write(data[50:])
    assert [(await _tcp_read(reader)).status for _ in range(2)] == [100, 603]
    second = invite(host="127.0.0.1", transport="TCP", branch="z9hG4bK-2", call_id="c2")
    writer.write(request("OPTIONS", host="127.0.0.1", branch="z9hG4bK-o") + second)
    assert [(await _tcp_read(reader)).status for _ in range(3)] == [200, 100, 603]
    writer.close()
    await writer.wait_closed()
    assert sum(isinstance(e, RequestReceived) for e in uas.events) == 2


async def test_tcp_without_content_length_gets_400_and_close(uas: Uas) -> None:
    reader, writer = await asyncio.open_connection(*_address(uas))
    writer.write(request("OPTIONS", host="127.0.0.1").replace(b"Content-Length: 0\r\n", b""))
    response = await _tcp_read(reader)
    assert response.status == 400
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_handler_exception_does_not_crash(uas: Uas) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("handler bug")

    assert uas.transport is not None
    uas.transport.on_event = broken
    with _udp_socket(_address(uas)) as sock:
        (trying,) = await _udp_exchange(sock, invite(host="127.0.0.1"), 1)
        assert trying.status == 100  # the 200 ms automatic 100 Trying


async def test_send_request_and_2xx_ack() -> None:
    events: list[Event] = []
    server = SipTransport(events.append)
    client = SipTransport(lambda event: None, endpoint=SipEndpoint(t1=0.05))
    await server.start("127.0.0.1", 0)
    await client.start("127.0.0.1", 0)
    try:
        headers = Headers(
            [
                ("From", "<sip:a@127.0.0.1>;tag=x"),
                ("To", "<sip:b@127.0.0.1>"),
                ("Call-ID", "req-1"),
                ("CSeq", "1 INFO"),
            ]
        )
        future = client.send_request(
            Request("INFO", "sip:b@127.0.0.1", headers), server.local_address
        )
        await asyncio.sleep(0.05)
        (received,) = [e for e in events if isinstance(e, RequestReceived)]
        server.send_response(received.transaction, build_response(received.request, 202))
        response = await asyncio.wait_for(future, 2)
        assert response.status == 202
        headers2 = headers.copy()
        headers2.set("Call-ID", "req-2")
        timeout = client.send_request(
            Request("INFO", "sip:b@127.0.0.1", headers2), ("127.0.0.1", 9)
        )
        assert (await asyncio.wait_for(timeout, 5)).status == 408
        ack_headers = headers.copy()
        ack_headers.set("CSeq", "1 ACK")
        client.send_ack(Request("ACK", "sip:b@127.0.0.1", ack_headers), server.local_address)
        await asyncio.sleep(0.05)
        assert any(isinstance(e, AckReceived) for e in events)
    finally:
        await client.close()
        await server.close()


async def test_guard_drops_over_the_limit_then_refuses_the_banned_source_over_tcp() -> None:
    handler = Uas()
    guard = SourceGuard.of(window=60, threshold=2, ban_seconds=300)
    transport = SipTransport(handler, endpoint=SipEndpoint(t1=0.05), guard=guard)
    handler.transport = transport
    await transport.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(*transport.local_address)
        options = [request("OPTIONS", host="127.0.0.1", branch=f"z9hG4bK-o{i}") for i in range(3)]
        writer.write(b"".join(o.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP") for o in options))
        assert [(await _tcp_read(reader)).status for _ in range(2)] == [200, 200]
        assert await asyncio.wait_for(reader.read(), 2) == b""  # the third: banned, closed
        assert guard.bans.banned("127.0.0.1")
        again_reader, again = await asyncio.open_connection(*transport.local_address)
        assert await asyncio.wait_for(again_reader.read(), 2) == b""  # refused at connect
        again.close()
        writer.close()
    finally:
        await transport.close()
