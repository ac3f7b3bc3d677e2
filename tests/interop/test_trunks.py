"""SIP trunks end to end against `callplane serve`: a Dial's <Number> leaves through a
trunk (configured with the CLI) whose gateway, a SIPp UAS, challenges with 407; INVITEs
from a trunk's ACL'd address are taken; a digest trunk's INVITE is challenged and
taken after SIPp answers the challenge; a wrong password is refused. Distinct source
addresses are distinct loopback addresses (SIPp ``-i 127.0.0.x``)."""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    CallplaneServer,
    SippResult,
    SippUas,
    WebhookServer,
    free_port,
    sipp,
)

_numbers = itertools.count(15550300000)


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-trunks")).start()
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture(autouse=True)
def _clean(callplane: CallplaneServer) -> Iterator[None]:
    """Each test configures its own trunks; SIPp processes never outlive a test."""
    yield
    for trunk in callplane.api("GET", "Trunk/")["objects"]:
        callplane.api("DELETE", f"Trunk/{trunk['trunk_id']}/")


def caller(
    workdir: Path, callplane: CallplaneServer, scenario: str, ip: str, *args: str, **values: Any
) -> SippResult:
    values = {"caller_name": "Carrier", **values}
    return sipp(workdir, scenario, callplane.sip_port, timeout=25, ip=ip, extra=args, **values)


def cli(callplane: CallplaneServer, *args: str) -> str:
    """The `callplane` command, as an operator runs it against the server."""
    base = [
        sys.executable,
        "-m",
        "callplane",
        "--api-url",
        f"http://127.0.0.1:{callplane.http_port}",
    ]
    base += ["--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN]
    done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def answered_line(callplane: CallplaneServer, web: WebhookServer, document: str) -> str:
    number = str(next(_numbers))
    app_id = callplane.application(web.set(f"/trunks/answer/{number}", document))
    callplane.number(number, app_id)
    return number


def records_to(callplane: CallplaneServer, number: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = callplane.api("GET", "Call/", params={"to_number": number})[
        "objects"
    ]
    return objects


def expected_digest(authorization: str, password: str, method: str = "INVITE") -> tuple[str, str]:
    """(response sent, RFC 2617 response recomputed here with hashlib) of a header value."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization))

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{params['username']}:{params['realm']}:{password}")
    ha2 = md5(f"{method}:{params['uri']}")
    data = f"{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
    return params["response"], md5(f"{ha1}:{data}")


def test_outbound_call_through_a_trunk_that_challenges_with_407(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    gateway_port = free_port()
    cli(callplane, "trunks", "add", "nowhere", "--host", "127.0.0.1", "--port", str(free_port()))
    added = cli(
        callplane,
        "--json",
        "trunks",
        "add",
        "carrier",
        "--host",
        "127.0.0.1",
        "--port",
        str(gateway_port),
        "--username",
        "acme",
        "--password",
        "gateway-secret",
        "--prefixes",
        "1555",
        "--strip-digits",
        "1",
        "--add-prefix",
        "00",
        "--caller-id",
        "14155550199",
    )
    assert "gateway-secret" not in added and '"password_set": true' in added
    action = web.set("/trunks/dial-action", "<Response></Response>")
    number = answered_line(
        callplane,
        web,
        f'<Response><Dial action="{action}" timeout="10">'
        "<Number>+15557654321</Number></Dial></Response>",
    )
    gateway = SippUas(
        workdir,
        "uas_407_answer.xml",
        gateway_port,
        realm="carrier.example",
        nonce="n0nce-4071",
        username="acme",
        hold_ms=800,
    )
    call = caller(workdir, callplane, "uac_dial_answered.xml", "127.0.0.1", to=number)
    at_gateway = gateway.result(35)
    assert at_gateway.returncode == 0, at_gateway.output
    assert call.returncode == 0, call.output

    status = web.wait_for("/trunks/dial-action", timeout=20)[0].params
    assert status["DialStatus"] == "completed", status
    # On the wire: the rewritten number, the trunk's caller id, a correct digest answer.
    assert "INVITE sip:005557654321@127.0.0.1:" in at_gateway.output
    assert "<sip:14155550199@" in at_gateway.output
    (authorization,) = re.findall(r"Proxy-Authorization: (Digest [^\r\n]+)", at_gateway.output)
    sent, recomputed = expected_digest(authorization, "gateway-secret")
    assert sent == recomputed
    b_leg = callplane.api("GET", f"Call/{status['DialBLegUUID']}/")
    assert (b_leg["from_number"], b_leg["to_number"]) == ("14155550199", "005557654321")


@pytest.fixture
def inbound_trunk(callplane: CallplaneServer) -> dict[str, Any]:
    body = {
        "name": "carrier-in",
        "host": "127.0.0.2",
        "inbound_acl": ["127.0.0.2"],
        "inbound_username": "carrier",
        "inbound_password": "carrier-pass-1",
    }
    return callplane.api("POST", "Trunk/", json=body)


HANG_UP_SOON = '<Response><Wait length="1"/><Hangup/></Response>'


def test_an_invite_from_an_acl_address_is_taken_as_the_trunk(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path, inbound_trunk: dict[str, Any]
) -> None:
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = caller(workdir, callplane, "uac_answer_bye.xml", "127.0.0.2", to=number)
    assert call.returncode == 0, call.output
    assert "407" not in call.output.split("SIP/2.0 200")[0]  # never challenged
    (record,) = records_to(callplane, number)
    assert f"from trunk carrier-in ({inbound_trunk['trunk_id']})" in str(record)


def test_a_digest_trunk_is_challenged_and_taken_after_answering(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path, inbound_trunk: dict[str, Any]
) -> None:
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = caller(
        workdir,
        callplane,
        "uac_407_auth.xml",
        "127.0.0.3",
        "-au",
        "carrier",
        "-ap",
        "carrier-pass-1",
        "-auth_uri",  # SIPp's default digest uri is host:port, not the Request-URI
        f"{number}@127.0.0.1:{callplane.sip_port}",
        to=number,
    )
    assert call.returncode == 0, call.output
    assert "Proxy-Authenticate: Digest" in call.output
    (record,) = records_to(callplane, number)
    assert "from trunk carrier-in" in str(record) and record["call_status"] == "completed"


def test_an_unlisted_address_with_a_wrong_password_is_refused(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path, inbound_trunk: dict[str, Any]
) -> None:
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = caller(
        workdir,
        callplane,
        "uac_407_refused.xml",
        "127.0.0.4",
        "-au",
        "carrier",
        "-ap",
        "not-the-password",
        "-auth_uri",
        f"{number}@127.0.0.1:{callplane.sip_port}",
        to=number,
        code=403,
    )
    assert call.returncode == 0, call.output
    assert records_to(callplane, number) == []  # refused before it became a call
    assert not web.seen(f"/trunks/answer/{number}")


def test_without_inbound_trunks_any_source_may_call_a_number(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    number = answered_line(callplane, web, HANG_UP_SOON)
    call = caller(workdir, callplane, "uac_answer_bye.xml", "127.0.0.5", to=number)
    assert call.returncode == 0, call.output
    (record,) = records_to(callplane, number)
    assert "from trunk" not in str(record)
