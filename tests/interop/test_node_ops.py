"""A node's operations surface (docs/operations.md) against a real `callplane serve`:
health and readiness, draining on SIGTERM or `callplane node drain` with SIPp calls
in progress, Prometheus metrics after refused and answered calls, JSON logs."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    CallplaneServer,
    WebhookServer,
    sipp,
    sipp_start,
)
from tests.security.peer import SipPeer

NUMBER = "15550001111"
WAIT_XML = '<Response><Wait length="60"/></Response>'


def http(server: CallplaneServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.http_port}{path}", timeout=10, **kwargs)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def record_of(server: CallplaneServer, call_uuid: str) -> sqlite3.Row:
    """The call's record, read from the stopped server's database."""
    with sqlite3.connect(server.data_dir / "callplane.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT state, hangup_cause_name, hangup_cause_code, hangup_source "
            "FROM call_records WHERE call_uuid = ?",
            (call_uuid,),
        ).fetchone()
    assert row is not None, f"no record of {call_uuid}"
    return row


@pytest.fixture
def draining_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CallplaneServer]:
    extra: tuple[str, ...] = getattr(request, "param", ())
    server = CallplaneServer(tmp_path, extra=("--log-format", "json", "--node-name", "n-a", *extra))
    server.start()
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()
    server.log.close()


def answered_call(
    server: CallplaneServer, web: WebhookServer, workdir: Path, scenario: str, **values: object
) -> tuple[subprocess.Popen[str], str]:
    """A SIPp caller in a live call (the answer URL was fetched); its CallUUID."""
    path = f"/answer-{time.monotonic_ns()}"
    server.number(NUMBER, server.application(web.set(path, WAIT_XML)))
    caller = sipp_start(workdir, scenario, server.sip_port, to=NUMBER, **values)
    answer = web.wait_for(path)[0]
    wait_until(lambda: server.api("GET", "Node/")["live_calls"] == 1, "the call to be live")
    return caller, answer.params["CallUUID"]


def test_health_and_readiness(draining_server: CallplaneServer) -> None:
    assert http(draining_server, "/healthz").json() == {"status": "alive"}
    ready = http(draining_server, "/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    node = draining_server.api("GET", "Node/")
    assert (node["node_name"], node["state"], node["live_calls"]) == ("n-a", "ready", 0)
    peer = SipPeer("127.0.0.1", draining_server.sip_port)
    try:
        probe = peer.send(peer.build("OPTIONS", NUMBER, from_user="kamailio"))
    finally:
        peer.close()
    assert probe is not None and probe.status == 200


def test_sigterm_drains_live_call_then_exits(
    draining_server: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    server = draining_server
    caller, call_uuid = answered_call(server, web, workdir, "uac_answer_hangup.xml", hold_ms=5000)

    server.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: http(server, "/readyz").status_code == 503, "/readyz to say draining")
    assert http(server, "/readyz").json() == {"status": "draining"}
    assert http(server, "/healthz").status_code == 200
    peer = SipPeer("127.0.0.1", server.sip_port)
    try:
        probe = peer.send(peer.build("OPTIONS", NUMBER, from_user="kamailio"))
        refused = peer.invite(NUMBER, "14155550100")
    finally:
        peer.close()
    assert probe is not None and probe.status == 503
    assert refused is not None and refused.status == 503
    assert refused.headers.get("Retry-After") == "60"
    placed = httpx.post(
        server.api_base + "Call/",
        auth=(AUTH_ID, AUTH_TOKEN),
        json={"from": "14155550100", "to": NUMBER, "answer_url": web.url("/placed")},
        timeout=10,
    )
    assert placed.status_code == 503 and "draining" in placed.json()["error"]
    assert server.proc.poll() is None, "the node exited with a call still live"

    assert caller.wait(30) == 0, "the caller's BYE was not answered"
    assert server.proc.wait(20) == 0, server.logs()
    record = record_of(server, call_uuid)
    assert (record["state"], record["hangup_cause_code"]) == ("ended", 4000)
    assert record["hangup_source"] == "Caller"
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert all(line["node"] == "n-a" for line in lines)
    assert any(line.get("call_uuid") == call_uuid for line in lines), lines


@pytest.mark.parametrize("draining_server", [("--drain-timeout", "1")], indirect=True)
def test_node_drain_hangs_up_after_drain_timeout(
    draining_server: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    server = draining_server
    caller, call_uuid = answered_call(server, web, workdir, "uac_answer_bye.xml")

    api = ("--api-url", f"http://127.0.0.1:{server.http_port}")
    login = ("--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN)
    drain = subprocess.run(
        [sys.executable, "-m", "callplane", *api, *login, "node", "drain"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert drain.returncode == 0, drain.stderr
    assert "n-a is draining: 1 live call(s), up to 1 s" in drain.stdout

    assert caller.wait(30) == 0, "the caller got no BYE"
    assert server.proc.wait(20) == 0, server.logs()
    record = record_of(server, call_uuid)
    assert (record["hangup_cause_name"], record["hangup_cause_code"]) == ("Node Drained", 5091)
    assert record["hangup_source"] == "Callplane"


def test_second_sigterm_stops_at_once(
    draining_server: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    server = draining_server
    caller, call_uuid = answered_call(server, web, workdir, "uac_answer_bye.xml")
    server.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: http(server, "/readyz").status_code == 503, "/readyz to say draining")
    server.proc.send_signal(signal.SIGTERM)
    assert caller.wait(30) == 0, "the caller got no BYE"
    assert server.proc.wait(20) == 0, server.logs()
    record = record_of(server, call_uuid)
    assert (record["hangup_cause_name"], record["hangup_cause_code"]) == ("Callplane Stopped", 5090)


def scrape(server: CallplaneServer) -> dict[str, float]:
    response = http(server, "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def moved(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def test_metrics_count_refused_and_webhook_calls(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    before = scrape(callplane)
    refused = sipp(workdir, "uac_final.xml", callplane.sip_port, to="19990000000", code=404)
    assert refused.returncode == 0, refused.output
    number = "15550002222"
    app = callplane.application(
        web.set("/m-answer", "<Response/>"), hangup_url=web.url("/m-hangup")
    )
    callplane.number(number, app)
    ended = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=603)
    assert ended.returncode == 0, ended.output
    web.wait_for("/m-answer")
    callback = 'callplane_webhook_requests_total{kind="callback",outcome="ok"}'
    wait_until(lambda: moved(before, scrape(callplane), callback) == 1, "the hangup callback")
    after = scrape(callplane)

    assert moved(before, after, 'callplane_calls_refused_total{cause="unknown_number"}') == 1
    assert moved(before, after, 'callplane_calls_started_total{direction="inbound"}') == 1
    assert moved(before, after, 'callplane_calls_ended_total{cause="NORMAL_CLEARING"}') == 1
    assert moved(before, after, "callplane_call_setup_seconds_count") == 1
    assert moved(before, after, 'callplane_webhook_requests_total{kind="action",outcome="ok"}') == 1
    assert moved(before, after, 'callplane_webhook_seconds_count{kind="action"}') == 1
    assert after["callplane_calls_active"] == 0
    assert after["callplane_node_draining"] == 0
    assert "callplane_callback_outbox_depth" in after
    assert moved(before, after, "callplane_record_batch_seconds_count") >= 1


@pytest.mark.parametrize("draining_server", [("--metrics-token", "s3cret")], indirect=True)
def test_metrics_token(draining_server: CallplaneServer) -> None:
    assert http(draining_server, "/metrics").status_code == 401
    wrong = http(draining_server, "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = http(draining_server, "/metrics", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200 and "callplane_calls_active" in right.text
