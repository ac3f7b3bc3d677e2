"""Issue 12, finding 1: one UDP packet naming a host must not stop every SIP timer.

Under uvloop, ``sendto((hostname, port))`` raises ValueError. An INVITE whose top
Via has ``maddr=bad.invalid`` used to make the automatic 100 Trying raise inside
the timer callback, which was then never re-armed: no retransmission and no
timeout fired for any call. These tests run on uvloop, as ``callplane serve`` does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket

import pytest
import uvloop

from callplane.net.sip_transport import SipTransport
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import Event, RequestReceived
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response, parse_message
from tests.sip.messages import invite, request

T1 = 0.05
RETRANSMISSIONS = 5


class _Counter(asyncio.DatagramProtocol):
    """A silent UDP peer that notes when each datagram arrives."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.changed = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.arrivals.append(asyncio.get_running_loop().time())
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.arrivals) < count:
            self.changed.clear()
            await self.changed.wait()


def _invite_to(address: tuple[str, int]) -> Request:
    uri = f"sip:bob@{address[0]}:{address[1]}"
    headers = Headers(
        [
            ("From", "<sip:alice@127.0.0.1>;tag=a1"),
            ("To", f"<{uri}>"),
            ("Call-ID", "retransmitted@127.0.0.1"),
            ("CSeq", "1 INVITE"),
            ("Contact", "<sip:alice@127.0.0.1>"),
        ]
    )
    return Request("INVITE", uri, headers)


async def _bad_maddr_scenario() -> tuple[list[float], Response, list[Event], Response]:
    loop = asyncio.get_running_loop()
    events: list[Event] = []
    transport = SipTransport(events.append, endpoint=SipEndpoint(t1=T1))
    await transport.start("127.0.0.1", 0)
    peer_transport, peer = await loop.create_datagram_endpoint(
        _Counter, local_addr=("127.0.0.1", 0)
    )
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.setblocking(False)
    attacker.bind(("127.0.0.1", 0))
    attacker.connect(transport.local_address)
    try:
        dest = peer_transport.get_extra_info("sockname")[:2]
        future = transport.send_request(_invite_to(dest), dest)
        await asyncio.wait_for(peer.wait_for(1), 5)
        port = attacker.getsockname()[1]
        bad = invite(host="127.0.0.1", port=port).replace(b";rport", b";rport;maddr=bad.invalid")
        await loop.sock_sendall(attacker, bad)
        await asyncio.wait_for(peer.wait_for(1 + RETRANSMISSIONS), 10)
        timeout = await asyncio.wait_for(future, 10)  # Timer B still fires
        # the server keeps answering others: an OPTIONS from the same socket gets its 200
        await loop.sock_sendall(attacker, request("OPTIONS", host="127.0.0.1", port=port))
        reply = parse_message(await asyncio.wait_for(loop.sock_recv(attacker, 65536), 5))
        assert isinstance(reply, Response)
        return peer.arrivals, timeout, events, reply
    finally:
        attacker.close()
        peer_transport.close()
        await transport.close()


def test_bad_maddr_does_not_stop_retransmissions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callplane.sip")
    arrivals, timeout, events, options_reply = uvloop.run(_bad_maddr_scenario())

    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    for k, gap in enumerate(gaps[:RETRANSMISSIONS]):
        assert gap >= 0.8 * T1 * 2**k, f"Timer A interval {k} was {gap:.3f} s"  # doubling
    assert timeout.status == 408
    assert options_reply.status == 200
    # the bad INVITE reached the TU; only its responses were dropped, and said so
    bad = [e for e in events if isinstance(e, RequestReceived) and e.request.method == "INVITE"]
    assert len(bad) == 1
    assert any("bad.invalid" in record.getMessage() for record in caplog.records)
    assert not any(record.exc_info for record in caplog.records)
