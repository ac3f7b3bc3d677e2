"""The REST API bounds what one client can make the server do (issue 12).

Against a real `callplane serve`: bodies over the limit are refused with 413
before they are read (SIP, on the same event loop, stays responsive), deep JSON
and huge forms get 400, and slow or idle HTTP connections are closed.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer
from tests.security.conftest import SubAccount
from tests.security.probes import OptionsProbe, upload

LIMIT = 1 << 20  # --max-body-bytes default
UPLOAD = 60 * 10**6
SIP_BOUND = 0.050  # seconds: the bound on SIP answers during an upload


@pytest.mark.serial
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_60mb_body_gets_413_while_sip_answers_within_50ms(
    callplane: CallplaneServer, sub_account: SubAccount, chunked: bool
) -> None:
    path = f"/v1/Account/{sub_account.auth_id}/Application/"
    with OptionsProbe(callplane.sip_port) as probe:
        probe.wait_for(3)
        before = probe.mark()
        status, response, sent = upload(
            callplane.http_port, path, sub_account.basic, UPLOAD, chunked=chunked
        )
        probe.wait_for(3)
    body = json.loads(response.partition(b"\r\n\r\n")[2])
    assert status == 413, response[:300]
    assert body["error"] == f"request body larger than {LIMIT} bytes" and body["api_id"]
    assert sent < UPLOAD  # refused before the upload finished
    during = probe.round_trips[before:]
    assert max(during) < SIP_BOUND, f"SIP OPTIONS round trips during the upload: {during}"


def test_body_under_the_limit_reaches_the_handler(
    callplane: CallplaneServer, sub_account: SubAccount
) -> None:
    """A body under the limit reaches the handler (which names the bad field)."""
    form = "app_name=" + "x" * (LIMIT - 20)
    response = httpx.post(
        f"{callplane.api_base.rsplit('/', 2)[0]}/{sub_account.auth_id}/Application/",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(sub_account.auth_id, sub_account.auth_token),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"app_name": "at most 2048 characters"}


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(callplane: CallplaneServer, depth: int) -> None:
    body = '{"app_name": ' + "[" * depth + "]" * depth + "}"
    response = httpx.post(
        callplane.api_base + "Application/",
        content=body,
        headers={"content-type": "application/json"},
        auth=(AUTH_ID, AUTH_TOKEN),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "request body: arrays and objects nested more than 32 deep"


def test_form_with_too_many_fields_is_400(callplane: CallplaneServer) -> None:
    form = "&".join(f"f{n}=1" for n in range(10_000))
    response = httpx.post(
        callplane.api_base + "Application/",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(AUTH_ID, AUTH_TOKEN),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "form body has more than 256 fields"


def test_idle_and_slow_header_connections_are_closed(callplane: CallplaneServer) -> None:
    """Half-open connections (nothing sent) and slowloris ones (headers dribbled) are
    closed after the header timeout (10 s by default); the server serves others."""
    idle = [socket.create_connection(("127.0.0.1", callplane.http_port)) for _ in range(100)]
    slow = [socket.create_connection(("127.0.0.1", callplane.http_port)) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /v1/Account/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    open_ = {*idle, *slow}
    deadline = time.monotonic() + 30
    while open_ and time.monotonic() < deadline:
        for sock in open_.intersection(slow):  # a header line a second: never complete
            _send_quietly(sock, b"X-Slow: 1\r\n")
        open_ -= _closed_by_peer(open_, wait=1.0)
    assert not open_, f"{len(open_)} of 105 slow connections still open after 30 s"
    assert httpx.get(callplane.api_base, auth=(AUTH_ID, AUTH_TOKEN)).status_code == 200
    for sock in [*idle, *slow]:
        sock.close()


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    """A server with small HTTP bounds, set by the serve flags."""
    flags = ("--http-max-connections", "20", "--http-body-timeout", "2")
    server = CallplaneServer(tmp_path_factory.mktemp("tight"), extra=flags).start()
    yield server
    assert server.stop() == 0, server.logs()


def test_connections_over_the_cap_get_503(tight: CallplaneServer) -> None:
    held = {socket.create_connection(("127.0.0.1", tight.http_port)) for _ in range(20)}
    assert not _closed_by_peer(held, wait=0.2)
    extra = socket.create_connection(("127.0.0.1", tight.http_port))
    response = _read_all(extra)
    assert response.startswith(b"HTTP/1.1 503 "), response[:200]
    assert b'"error":"too many connections"' in response
    assert not _closed_by_peer(held, wait=0.2)
    for sock in [*held, extra]:
        sock.close()
    deadline = time.monotonic() + 10  # until the server has seen the closes
    while (status := _get_status(tight)) != 200 and time.monotonic() < deadline:
        pass
    assert status == 200


def test_slow_body_is_closed_after_the_body_timeout(tight: CallplaneServer) -> None:
    sock = socket.create_connection(("127.0.0.1", tight.http_port))
    sock.sendall(
        f"POST /v1/Account/{AUTH_ID}/Application/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
    )
    started = time.monotonic()
    assert _closed_by_peer({sock}, wait=20) == {sock}
    assert time.monotonic() - started >= 1.5  # the body timeout (2 s), not something sooner
    sock.close()


def test_oversized_headers_get_431(tight: CallplaneServer) -> None:
    sock = socket.create_connection(("127.0.0.1", tight.http_port))
    sock.sendall(b"GET /v1/Account/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    with contextlib.suppress(OSError):  # the server may close while this is sent
        for _ in range(100):
            sock.sendall(b"X-Filler: " + b"y" * 1000 + b"\r\n")
    response = _read_all(sock)
    sock.close()
    assert response.startswith(b"HTTP/1.1 431 "), response[:200]
    assert b'"error":"request headers larger than 65536 bytes"' in response


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # closed by the server meanwhile
        sock.sendall(data)


def _get_status(server: CallplaneServer) -> int:
    try:
        return httpx.get(server.api_base, auth=(AUTH_ID, AUTH_TOKEN)).status_code
    except httpx.TransportError:  # refused while the cap was still full
        return 0


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while data := sock.recv(65536):
            received += data
    return received


def _closed_by_peer(socks: set[socket.socket], wait: float) -> set[socket.socket]:
    """The sockets the server closes within ``wait`` seconds (EOF or reset, after any
    reply it sent first)."""
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0 and len(closed) < len(socks):
        readable, _, _ = select.select(list(socks - closed), [], [], left)
        for sock in readable:
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed.add(sock)
    return closed
