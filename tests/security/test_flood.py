"""Flood containment against a real `callplane serve`: per-source limit and bans (pike,
ipban), scanner User-Agents, and the account's inbound calls/s ahead of per-call work.

Other loopback addresses stand for other hosts: 127.0.0.1 is the legitimate caller,
127.0.0.2 and up the flooders and scanners.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    CallplaneServer,
    SippResult,
    WebhookServer,
    sipp,
)

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed")

BLOCKED = "15550002000"
OPEN = "15550001000"
DEFAULT_THRESHOLD = 200  # `callplane serve --pike-threshold` default


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    """One server for the tests that each flood or probe from an address of their own."""
    started = CallplaneServer(tmp_path_factory.mktemp("callplane")).start()
    yield started
    assert started.stop() == 0, started.logs()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[CallplaneServer]:
    """A server of its own, for a test that counts all it refused and recorded."""
    started = CallplaneServer(tmp_path).start()
    yield started
    assert started.stop() == 0, started.logs()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def bans(server: CallplaneServer) -> dict[str, Any]:
    return server.api("GET", "Security/Ban/")


def ban_of(server: CallplaneServer, source: str) -> dict[str, Any] | None:
    return next((b for b in bans(server)["objects"] if b["source"] == source), None)


def refused(server: CallplaneServer, kind: str, key: str) -> int:
    for entry in bans(server)["refused"]:
        if (entry["kind"], entry["key"]) == (kind, key):
            return int(entry["count"])
    return 0


def records_to(server: CallplaneServer, number: str) -> int:
    page = server.api("GET", "Call/", params={"to_number": number, "limit": 1})
    return int(page["meta"]["total_count"])


def options(source: str, port: int, user_agent: str = "softphone/1.0") -> bytes:
    call_id = uuid.uuid4().hex
    return (
        f"OPTIONS sip:{OPEN}@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:5060;rport;branch=z9hG4bK{call_id}\r\n"
        f"From: <sip:probe@{source}>;tag={call_id[:8]}\r\n"
        f"To: <sip:{OPEN}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Max-Forwards: 70\r\n"
        f"User-Agent: {user_agent}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def probe(source: str, port: int, user_agent: str = "softphone/1.0", wait: float = 1.0) -> bool:
    """One OPTIONS from ``source``; True if it was answered within ``wait`` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(wait)
        sock.sendto(options(source, port, user_agent), ("127.0.0.1", port))
        try:
            return sock.recv(4096).startswith(b"SIP/2.0 200")
        except TimeoutError:
            return False


def burst(source: str, port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for _ in range(count):
            sock.sendto(options(source, port), ("127.0.0.1", port))


def cli(server: CallplaneServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN}
    url = f"http://127.0.0.1:{server.http_port}"
    return subprocess.run(
        [sys.executable, "-m", "callplane", "--api-url", url, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )


@pytest.mark.serial
def test_a_flood_from_one_source_is_cut_while_a_legitimate_caller_gets_through(
    own_server: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    own_server.api("POST", "", json={"inbound_cps": 100000})
    hangups = f"/flood-{time.monotonic_ns()}/hangup"
    blocked_app = own_server.application(web.set("/flood/answer", "<Response/>"))
    own_server.api("POST", f"Application/{blocked_app}/", json={"hangup_url": web.url(hangups)})
    own_server.number(BLOCKED, blocked_app)
    rule = {"match": "prefix", "pattern": "1", "reason": "rejected", "number": BLOCKED}
    own_server.api("POST", "Blocklist/", json=rule)
    busy = web.set("/legit/answer", "<Response><Hangup reason='busy'/></Response>")
    own_server.number(OPEN, own_server.application(busy))

    flood_invites = 1500
    legit: list[SippResult] = []
    caller = threading.Thread(
        target=lambda: legit.append(
            sipp(
                tmp_path, "uac_final.xml", own_server.sip_port, to=OPEN, code=486, calls=20, rate=10
            )
        )
    )
    caller.start()
    flood = sipp(
        tmp_path,
        "uac_invite_flood.xml",
        own_server.sip_port,
        ip="127.0.0.2",
        to=BLOCKED,
        calls=flood_invites,
        rate=750,
    )
    caller.join()
    assert flood.returncode == 0, flood.output
    assert legit[0].returncode == 0, legit[0].output  # every legitimate call got its 486

    records = wait_until(
        lambda: (n := records_to(own_server, BLOCKED)) and n == len(web.seen(hangups)) and n,
        "the records of the INVITEs let through to have their hangup callbacks",
    )
    assert records <= DEFAULT_THRESHOLD + 10  # not one record per INVITE
    ban = wait_until(lambda: ban_of(own_server, "127.0.0.2"), "the flooder's ban")
    assert ban["dropped"] > 0 and "requests in 2 s" in ban["reason"]
    assert refused(own_server, "banned", "127.0.0.2") + records >= flood_invites * 0.9


def test_a_banned_source_is_dropped_listed_and_lifted(server: CallplaneServer) -> None:
    assert probe("127.0.0.3", server.sip_port)
    burst("127.0.0.3", server.sip_port, DEFAULT_THRESHOLD + 50)
    wait_until(lambda: ban_of(server, "127.0.0.3"), "the ban")

    before = refused(server, "banned", "127.0.0.3")
    assert not probe("127.0.0.3", server.sip_port, wait=0.5)
    wait_until(lambda: refused(server, "banned", "127.0.0.3") > before, "the drop to be counted")
    assert probe("127.0.0.1", server.sip_port)  # others are still answered

    listed = cli(server, "security", "bans")
    assert listed.returncode == 0 and "127.0.0.3" in listed.stdout, listed.stderr
    lifted = cli(server, "security", "bans", "lift", "127.0.0.3")
    assert lifted.returncode == 0, lifted.stderr
    assert ban_of(server, "127.0.0.3") is None
    assert probe("127.0.0.3", server.sip_port)
    again = cli(server, "security", "bans", "lift", "127.0.0.3")
    assert again.returncode != 0 and "no ban of '127.0.0.3'" in again.stderr


def test_bans_are_for_the_main_account_only(server: CallplaneServer) -> None:
    sub = server.api("POST", "Subaccount/", json={"name": "tenant", "enabled": True})
    url = f"http://127.0.0.1:{server.http_port}/v1/Account/{sub['auth_id']}/Security/Ban/"
    auth = (sub["auth_id"], sub["auth_token"])
    assert httpx.get(url, auth=auth).status_code == 403
    assert httpx.delete(url + "127.0.0.9/", auth=auth).status_code == 403


def test_trunk_addresses_are_exempt(server: CallplaneServer) -> None:
    trunk = {"name": "carrier", "host": "127.0.0.4", "inbound_acl": ["127.0.0.4/32"]}
    server.api("POST", "Trunk/", json=trunk)
    burst("127.0.0.4", server.sip_port, DEFAULT_THRESHOLD + 50)
    assert probe("127.0.0.4", server.sip_port)
    assert ban_of(server, "127.0.0.4") is None


def test_a_scanner_user_agent_is_dropped_silently(server: CallplaneServer) -> None:
    assert not probe("127.0.0.5", server.sip_port, "friendly-scanner", wait=0.5)
    wait_until(lambda: refused(server, "scanner", "127.0.0.5") == 1, "the scanner drop count")
    assert not probe("127.0.0.5", server.sip_port, "sipvicious 0.3.4", wait=0.5)
    assert probe("127.0.0.5", server.sip_port, "Linphone/5.2")


def test_calls_over_the_account_cps_are_refused_without_a_record(
    server: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    server.api("POST", "", json={"inbound_cps": 2})
    hangups = f"/cps-{time.monotonic_ns()}/hangup"
    answer = web.set("/cps/answer", "<Response><Hangup reason='rejected'/></Response>")
    server.number(OPEN, server.application(answer, hangup_url=web.url(hangups)))
    result = sipp(
        tmp_path,
        "uac_either.xml",
        server.sip_port,
        to=OPEN,
        code=603,
        other=486,
        calls=8,
        rate=40,
    )
    assert result.returncode == 0, result.output
    wait_until(
        lambda: (n := records_to(server, OPEN)) and n == len(web.seen(hangups)),
        "records with their hangup callbacks",
    )
    calls = server.api("GET", "Call/", params={"to_number": OPEN})["objects"]
    assert {c["sip_response_code"] for c in calls} == {603}  # no record for a 486
    wait_until(
        lambda: records_to(server, OPEN) + refused(server, "inbound_cps", AUTH_ID) == 8,
        "every call either recorded or counted as refused",
    )
    assert len(web.seen(hangups)) == records_to(server, OPEN) < 8
