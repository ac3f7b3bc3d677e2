"""Dial end to end: SIPp calls `callplane serve` (A leg), whose Dial rings SIPp user agent
servers (B legs) through a SIP trunk configured over REST; the Dial
status report is checked at the action URL, the B legs on the wire (SIPp traces)
and in the call records."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.interop.harness import (
    CallplaneServer,
    SippUas,
    WebhookServer,
    free_port,
    sipp,
)

_numbers = itertools.count(15550200000)
GATEWAY_PORT = free_port()


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-dial")).start()
    server.api("POST", "Trunk/", json={"name": "gw", "host": "127.0.0.1", "port": GATEWAY_PORT})
    yield server
    assert server.stop() == 0, server.logs()


def dial_line(
    callplane: CallplaneServer, web: WebhookServer, dial: str, method: str = "GET"
) -> tuple[str, str]:
    """A number whose document is ``dial`` (``{action}`` filled in); (number, action path)."""
    number = str(next(_numbers))
    action_path = f"/dial-action/{number}"
    action = web.set(action_path, "<Response></Response>")
    document = f"<Response>{dial.format(action=action, method=method)}</Response>"
    app_id = callplane.application(web.set(f"/answer/{number}", document))
    callplane.number(number, app_id)
    return number, action_path


def dial_number(timeout: int = 5, extra: str = "") -> str:
    return (
        f'<Dial action="{{action}}" method="{{method}}" timeout="{timeout}"{extra}>'
        "<Number>15557654321</Number></Dial>"
    )


def report(web: WebhookServer, path: str, method: str = "GET") -> dict[str, str]:
    request = web.wait_for(path, timeout=20)[0]
    assert request.method == method
    return request.params


@pytest.mark.parametrize(
    ("code", "reason", "status", "cause"),
    [
        (486, "Busy Here", "busy", "USER_BUSY"),
        (603, "Decline", "busy", "CALL_REJECTED"),
        (503, "Service Unavailable", "failed", "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_refusal_is_reported_at_the_action_url(
    callplane, web, workdir, code, reason, status, cause
) -> None:
    number, action = dial_line(callplane, web, dial_number())
    uas = SippUas(workdir, "uas_refuse.xml", GATEWAY_PORT, code=code, reason=reason)
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    params = report(web, action)
    assert params["DialStatus"] == status and params["DialHangupCause"] == cause
    assert params["DialRingStatus"] == "false" and params["DialBLegUUID"] == ""
    assert params["DialALegUUID"] == params["CallUUID"]


def test_answered_dial_reports_completed_and_records_the_b_leg(callplane, web, workdir) -> None:
    number, action = dial_line(callplane, web, dial_number(), method="POST")
    uas = SippUas(workdir, "uas_answer.xml", GATEWAY_PORT, ring_ms=200, hold_ms=1000)
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    params = report(web, action, "POST")
    assert params["DialStatus"] == "completed" and params["DialRingStatus"] == "true"
    assert params["DialHangupCause"] == "NORMAL_CLEARING"
    b_leg = callplane.api("GET", f"Call/{params['DialBLegUUID']}/")
    assert b_leg["call_direction"] == "outbound"
    assert b_leg["parent_call_uuid"] == params["CallUUID"]
    assert b_leg["to_number"] == "15557654321" and int(b_leg["call_duration"]) >= 1
    a_leg = callplane.api("GET", f"Call/{params['CallUUID']}/")
    assert "bridged" in str(a_leg)


def test_ringing_without_answer_is_cancelled_at_the_timeout(callplane, web, workdir) -> None:
    number, action = dial_line(callplane, web, dial_number(timeout=2))
    uas = SippUas(workdir, "uas_ring.xml", GATEWAY_PORT)
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    result = uas.result()
    assert result.returncode == 0, result.output
    assert "CANCEL sip:15557654321@" in result.output
    params = report(web, action)
    assert params["DialStatus"] == "no-answer" and params["DialRingStatus"] == "true"
    assert params["DialHangupCause"] == "NO_ANSWER"


def test_a_silent_destination_times_out(callplane, web, workdir) -> None:
    # Its own port, not the gateway's: the unanswered INVITE is retransmitted until
    # Timer B (32 s), and a later test's callee on that port would take it for its call.
    silent = free_port()
    dial = (
        '<Dial action="{action}" method="{method}" timeout="2">'
        f"<User>sip:15557654321@127.0.0.1:{silent}</User></Dial>"
    )
    number, action = dial_line(callplane, web, dial)
    uas = SippUas(workdir, "uas_silent.xml", silent, wait_ms=4000)
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    params = report(web, action)
    assert params["DialStatus"] == "timeout" and params["DialRingStatus"] == "false"
    assert params["DialHangupCause"] == "RECOVERY_ON_TIMER_EXPIRE"
    assert "CANCEL" not in uas.result().output  # nothing heard: no CANCEL (RFC 3261 §9.1)


def test_simultaneous_ring_first_answer_wins_the_other_gets_cancel(callplane, web, workdir) -> None:
    other = free_port()
    dial = (
        '<Dial action="{action}" method="{method}" timeout="10">'
        f"<Number>15557654321</Number><User>sip:bob@127.0.0.1:{other}</User></Dial>"
    )
    number, action = dial_line(callplane, web, dial)
    loser = SippUas(workdir, "uas_ring.xml", GATEWAY_PORT)
    winner = SippUas(workdir, "uas_answer.xml", other, ring_ms=500, hold_ms=1000)
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert winner.result().returncode == 0
    lost = loser.result()
    assert lost.returncode == 0 and "CANCEL sip:15557654321@" in lost.output
    params = report(web, action)
    assert params["DialStatus"] == "completed"
    b_leg = callplane.api("GET", f"Call/{params['DialBLegUUID']}/")
    assert b_leg["to_number"] == "bob"


def test_caller_hanging_up_cancels_the_ringing_b_leg(callplane, web, workdir) -> None:
    number, action = dial_line(callplane, web, dial_number(timeout=20))
    uas = SippUas(workdir, "uas_ring.xml", GATEWAY_PORT)
    caller = sipp(workdir, "uac_dial_cancel.xml", callplane.sip_port, to=number, pause_ms=300)
    assert caller.returncode == 0, caller.output
    result = uas.result(timeout=10)
    assert result.returncode == 0 and "CANCEL sip:15557654321@" in result.output
    params = report(web, action)
    assert params["DialHangupCause"] == "ORIGINATOR_CANCEL"


@pytest.mark.parametrize(
    ("caller_scenario", "callee_scenario", "call_status"),
    [
        ("uac_dial_answered_bye.xml", "uas_answer_until_bye.xml", "completed"),
        ("uac_dial_answered.xml", "uas_answer.xml", "in-progress"),
    ],
    ids=["caller-hangs-up-first", "callee-hangs-up-first"],
)
def test_bridged_dial_is_reported_whoever_hangs_up_first(
    callplane, web, workdir, caller_scenario, callee_scenario, call_status
) -> None:
    """Seed "dial status reporting" (XML): the report carries the call's real status."""
    number, action = dial_line(callplane, web, dial_number(), method="POST")
    uas = SippUas(workdir, callee_scenario, GATEWAY_PORT, ring_ms=100, hold_ms=600)
    caller = sipp(workdir, caller_scenario, callplane.sip_port, to=number, hold_ms=600)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    params = report(web, action, "POST")
    assert params["DialStatus"] == "completed" and params["DialHangupCause"] == "NORMAL_CLEARING"
    assert params["CallStatus"] == call_status
    assert params["DialBLegUUID"] and params["DialALegUUID"] == params["CallUUID"]
