"""Host names in SIP against `callplane serve --dns-server` (issue 12, finding 1): a trunk
named in DNS (SRV with two targets) sends its INVITE to the target with the best
priority; a trunk whose name does not resolve fails that call alone; a caller whose
Contact is a host name gets its BYE. The DNS server is a real one on loopback
(tests/net/dns_server.py) serving a test zone; the gateways are UDP sockets on
127.0.0.11 and 127.0.0.12."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callplane.sip.message import Request, build_response, parse_message
from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    CallplaneServer,
    WebhookServer,
    free_port,
    sipp,
)
from tests.interop.test_trunks import HANG_UP_SOON, answered_line, cli
from tests.net.dns_server import ThreadedDnsServer

PRIMARY = ("127.0.0.12", free_port())  # SRV priority 10
BACKUP = ("127.0.0.11", free_port())  # SRV priority 20
ZONE = {
    ("_sip._udp.carrier.test", "SRV"): [
        (60, f"20 0 {BACKUP[1]} gw-a.carrier.test."),
        (60, f"10 0 {PRIMARY[1]} gw-b.carrier.test."),
    ],
    ("gw-a.carrier.test", "A"): [(60, BACKUP[0])],
    ("gw-b.carrier.test", "A"): [(60, PRIMARY[0])],
    ("phone.test", "A"): [(60, "127.0.0.1")],
}


@pytest.fixture(scope="module")
def dns() -> Iterator[ThreadedDnsServer]:
    server = ThreadedDnsServer(ZONE).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def callplane(
    tmp_path_factory: pytest.TempPathFactory, dns: ThreadedDnsServer
) -> Iterator[CallplaneServer]:
    host, port = dns.address
    extra = ("--dns-server", f"{host}:{port}")
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-dns"), extra=extra).start()
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture
def gateways() -> Iterator[tuple[socket.socket, socket.socket]]:
    primary = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    backup = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    primary.bind(PRIMARY)
    backup.bind(BACKUP)
    primary.settimeout(15)
    backup.setblocking(False)
    yield primary, backup
    primary.close()
    backup.close()


def place_call(callplane: CallplaneServer, web: WebhookServer, to: str, hangup: str) -> str:
    body = {
        "from": "14155550100",
        "to": to,
        "answer_url": web.set("/dns/answer", HANG_UP_SOON),
        "hangup_url": web.url(hangup),
    }
    response = httpx.post(
        callplane.api_base + "Call/", json=body, auth=(AUTH_ID, AUTH_TOKEN), timeout=10
    )
    assert response.status_code == 201, response.text
    request_uuid: str = response.json()["request_uuid"]
    return request_uuid


def test_a_trunk_named_in_dns_calls_the_srv_target_with_the_best_priority(
    callplane: CallplaneServer,
    web: WebhookServer,
    gateways: tuple[socket.socket, socket.socket],
) -> None:
    primary, backup = gateways
    cli(callplane, "trunks", "add", "carrier", "--host", "carrier.test", "--port", "0")
    place_call(callplane, web, "15557654321", "/dns/hangup-srv")
    data, source = primary.recvfrom(65536)
    invite = parse_message(data)
    assert isinstance(invite, Request) and invite.method == "INVITE"
    assert invite.uri == "sip:15557654321@carrier.test"  # no port: the SRV records say
    primary.sendto(bytes(build_response(invite, 486, to_tag="gw")), source)
    hangup = web.wait_for("/dns/hangup-srv", timeout=20)[0].params
    assert hangup["CallStatus"] == "busy", hangup
    with pytest.raises(BlockingIOError):
        backup.recv(65536)  # the priority 20 target heard nothing


def test_a_trunk_whose_name_does_not_resolve_fails_that_call_alone(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    cli(callplane, "trunks", "add", "lost", "--host", "nowhere.test", "--prefixes", "1666")
    place_call(callplane, web, "16665550000", "/dns/hangup-lost")
    hangup = web.wait_for("/dns/hangup-lost", timeout=20)[0].params
    assert hangup["HangupCauseName"] == "Destination Failure", hangup
    assert hangup["CallStatus"] == "failed"
    # and the server still takes calls
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, timeout=25, to=number)
    assert call.returncode == 0, call.output


def test_a_caller_whose_contact_is_a_host_name_gets_the_bye(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = sipp(
        workdir,
        "uac_answer_bye_named_contact.xml",
        callplane.sip_port,
        timeout=25,
        to=number,
        contact_host="phone.test",
    )
    assert call.returncode == 0, call.output
