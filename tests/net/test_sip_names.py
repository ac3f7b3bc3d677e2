"""SipTransport with host names: resolved through a real DNS server on loopback, a name
that does not resolve fails its own request only (synthetic 503), a CANCEL follows its
INVITE, a refused TCP connection is a transport error, a Via maddr name is resolved."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from callplane.net.resolver import Resolver
from callplane.net.sip_transport import SipTransport
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import Event, RequestReceived
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response, parse_message
from tests.interop.harness import free_port
from tests.net.dns_server import DnsServer
from tests.sip.messages import invite

ZONE = {
    ("gw.test", "A"): [(60, "127.0.0.31")],
    ("phone.test", "A"): [(60, "127.0.0.32")],
}


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    server = await DnsServer.start(ZONE)
    yield server
    server.close()


@pytest.fixture
async def sip(dns: DnsServer) -> AsyncIterator[SipTransport]:
    requests: asyncio.Queue[RequestReceived] = asyncio.Queue()

    def on_event(event: Event) -> None:
        if isinstance(event, RequestReceived):
            requests.put_nowait(event)

    resolver = Resolver([dns.address], hosts_file=None, timeout=2.0)
    transport = SipTransport(on_event, endpoint=SipEndpoint(t1=0.05), resolver=resolver)
    transport.requests = requests  # type: ignore[attr-defined]
    await transport.start("127.0.0.1", 0)
    yield transport
    await transport.close()


def _socket(address: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(address)
    return sock


def _request(method: str, uri: str, call_id: str) -> Request:
    headers = Headers(
        [
            ("From", "<sip:a@127.0.0.1>;tag=x"),
            ("To", f"<{uri}>"),
            ("Call-ID", call_id),
            ("CSeq", f"1 {method}"),
            ("Contact", "<sip:a@127.0.0.1>"),
        ]
    )
    return Request(method, uri, headers)


async def _receive(sock: socket.socket) -> tuple[bytes, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recvfrom(sock, 65536), 5)


async def test_a_request_to_a_name_goes_to_its_address_and_cancel_follows(
    sip: SipTransport,
) -> None:
    port = free_port()
    gateway = _socket(("127.0.0.31", port))
    try:
        future = sip.send_request(_request("INVITE", "sip:b@gw.test", "n-1"), ("gw.test", port))
        data, _ = await _receive(gateway)
        sent = parse_message(data)
        assert isinstance(sent, Request) and sent.method == "INVITE"
        cancel = _request("CANCEL", "sip:b@gw.test", "n-1")
        cancel.headers.insert_first("Via", sent.headers.get("Via") or "")
        cancel.headers.set("CSeq", "1 CANCEL")
        sip.send_request(cancel, ("elsewhere.test", port))  # where its INVITE went
        data, _ = await _receive(gateway)
        assert data.startswith(b"CANCEL ")
        future.cancel()
    finally:
        gateway.close()


async def test_a_name_that_does_not_resolve_fails_alone_with_503(sip: SipTransport) -> None:
    future = sip.send_request(_request("BYE", "sip:b@gone.test", "n-2"), ("gone.test", 5060))
    response = await asyncio.wait_for(future, 5)
    assert response.status == 503
    assert "gone.test" in (response.headers.get("Warning") or "")
    assert sip.endpoint.transaction_count == 0
    again = sip.send_request(_request("BYE", "sip:b@gone.test", "n-3"), ("gone.test", 5060))
    assert again.done() and again.result().status == 503  # from the negative cache


async def test_a_refused_tcp_connection_is_a_503_at_once(sip: SipTransport) -> None:
    closed_port = free_port()  # nothing listens there
    future = sip.send_request(
        _request("OPTIONS", "sip:b@127.0.0.1", "n-4"), ("127.0.0.1", closed_port), "TCP"
    )
    response = await asyncio.wait_for(future, 5)  # not Timer F's 32 x T1
    assert response.status == 503


async def test_a_response_to_a_via_maddr_name_is_resolved(sip: SipTransport) -> None:
    port = free_port()
    phone = _socket(("127.0.0.32", port))
    caller = _socket(("127.0.0.1", 0))
    requests: asyncio.Queue[RequestReceived] = sip.requests  # type: ignore[attr-defined]
    try:
        data = invite(host="127.0.0.1", port=port).replace(b";rport", b";rport;maddr=phone.test")
        caller.sendto(data, sip.local_address)
        event = await asyncio.wait_for(requests.get(), 5)
        sip.send_response(event.transaction, sip.endpoint.response(event.transaction, 486))
        reply, _ = await _receive(phone)  # maddr:port of the Via, not the source address
        response = parse_message(reply)
        assert isinstance(response, Response) and response.status == 486
    finally:
        phone.close()
        caller.close()
