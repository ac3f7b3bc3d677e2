"""The RFC 4475 / RFC 5118 torture messages against a running `callplane serve`,
over UDP and TCP: every one is answered as the RFC says or dropped, and the
server keeps serving."""

from __future__ import annotations

import socket

import pytest

from tests.interop.harness import CallplaneServer
from tests.sip.test_conformance import CONFORMANCE, DROP, EXPECTED

pytestmark = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="no conformance messages")

OPTIONS = (
    "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-alive-{n};rport\r\n"
    "From: <sip:tester@127.0.0.1>;tag=alive\r\nTo: <sip:ping@127.0.0.1>\r\n"
    "Call-ID: alive-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)


def still_serving(server: CallplaneServer, n: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        port = sock.getsockname()[1]
        sock.sendto(OPTIONS.format(port=port, n=n).encode(), ("127.0.0.1", server.sip_port))
        return sock.recv(65535).startswith(b"SIP/2.0 200")


def first_final_status(data: bytes) -> int | None:
    for line in data.split(b"\r\n"):
        if line.startswith(b"SIP/2.0 "):
            status = int(line.split()[1])
            if status >= 200:
                return status
    return None


def tcp_exchange(port: int, message: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65535):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def test_every_torture_message_over_udp_leaves_the_server_serving(tmp_path) -> None:
    # A server of its own: the same bytes later over TCP would be retransmissions here.
    server = CallplaneServer(tmp_path).start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n, name in enumerate(sorted(EXPECTED)):
                sock.sendto((CONFORMANCE / name).read_bytes(), ("127.0.0.1", server.sip_port))
                if n % 10 == 0:
                    assert still_serving(server, n), name
        assert still_serving(server, 999)
        assert "Traceback" not in server.logs()
    finally:
        assert server.stop() == 0


# On a stream a Content-Length beyond the body means "more bytes to come"
# (RFC 4475 §3.1.2.2): the receiver waits, and the peer's close ends it unanswered.
STREAM_INCOMPLETE = {"rfc4475/clerr.dat"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_torture_message_over_tcp(callplane, name: str) -> None:
    received = tcp_exchange(callplane.sip_port, (CONFORMANCE / name).read_bytes())
    expected = DROP if name in STREAM_INCOMPLETE else EXPECTED[name]
    status = first_final_status(received)
    if isinstance(expected, int):
        assert status == expected, received
    elif expected == DROP:
        assert status is None, received
    else:  # a valid request, handed to the call layer: answered one way or another
        assert status is not None, received
    assert still_serving(callplane, hash(name) % 10000)
