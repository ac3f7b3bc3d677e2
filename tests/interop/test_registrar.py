"""PJSUA2 phones register with a running `callplane serve` as API-created endpoints.

The bindings are checked with query REGISTERs sent over UDP by ``digest_flow``,
the client half of our own digest code, against the server half.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest

from callplane.sip.auth import digest_flow
from callplane.sip.message import Request, Response, parse_message
from tests.interop.harness import CallplaneServer
from tests.interop.pjua import UserAgent
from tests.interop.pjua_register import register, wait_for_state


@pytest.fixture(scope="module")
def phone() -> Iterator[UserAgent]:
    ua = UserAgent(user="registrar-idle")
    yield ua
    ua.close()


def endpoint(callplane: CallplaneServer, password: str) -> str:
    username = f"reg{secrets.token_hex(4)}"
    body = {"username": username, "password": password, "alias": "Interop phone"}
    callplane.api("POST", "Endpoint/", json=body)
    return username


def query_register(port: int, username: str, password: str) -> Response:
    """A REGISTER without Contact (lists the bindings), answering the challenge."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        local = sock.getsockname()[1]
        flow = digest_flow(query_request(port, local, username), username, password)
        request = next(flow)
        while True:
            sock.sendto(bytes(request), ("127.0.0.1", port))
            response = final_response(sock)
            try:
                request = flow.send(response)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


def query_request(port: int, local: int, username: str) -> Request:
    data = (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{username}@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{username}@127.0.0.1>\r\n"
        f"Call-ID: {secrets.token_hex(8)}@127.0.0.1\r\n"
        "CSeq: 1 REGISTER\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def final_response(sock: socket.socket) -> Response:
    while True:
        message = parse_message(sock.recv(65535))
        if isinstance(message, Response) and message.status >= 200:
            return message


def test_pjsua2_registers_and_unregisters(phone: UserAgent, callplane: CallplaneServer) -> None:
    username = endpoint(callplane, "interop-secret-1")
    account = register(phone, username, "interop-secret-1", callplane.sip_port, expires=300)
    info = wait_for_state(phone, account, 1)
    assert info.regStatus == 200 and info.regIsActive, account.states
    assert 0 < info.regExpiresSec <= 300

    listing = query_register(callplane.sip_port, username, "interop-secret-1")
    assert listing.status == 200
    [contact] = listing.contacts
    assert username in str(contact.uri) and 0 < int(contact.params["expires"] or 0) <= 300

    account.setRegistration(False)
    info = wait_for_state(phone, account, 2)
    assert info.regStatus == 200 and not info.regIsActive, account.states
    assert query_register(callplane.sip_port, username, "interop-secret-1").contacts == []
    account.shutdown()


def test_pjsua2_wrong_password_is_refused(phone: UserAgent, callplane: CallplaneServer) -> None:
    username = endpoint(callplane, "interop-secret-2")
    account = register(phone, username, "not-the-password", callplane.sip_port)
    info = wait_for_state(phone, account, 1)
    assert info.regStatus == 403 and not info.regIsActive, account.states
    assert query_register(callplane.sip_port, username, "interop-secret-2").contacts == []
    assert f"as '{username}': REGISTER: wrong digest response" in callplane.logs()
    account.shutdown()


def test_query_with_wrong_password_ends_in_403(callplane: CallplaneServer) -> None:
    username = endpoint(callplane, "interop-secret-3")
    assert query_register(callplane.sip_port, username, "wrong-password").status == 403
