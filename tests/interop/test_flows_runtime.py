"""Flows on real calls: SIPp calls a number assigned a published flow on `callplane
serve`; Call Forward rings SIPp callees through a SIP trunk
(configured over REST); HTTP Request nodes report to a real HTTP server.
Each run's log is read back through the REST API."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.flows.examples import DIAL_EXITS, edge, node
from tests.interop.harness import CallplaneServer, SippUas, WebhookServer, free_port, sipp

_numbers = itertools.count(15550600000)
GATEWAY_PORT = free_port()
CALLER = "14155550100"


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-flows")).start()
    server.api("POST", "Trunk/", json={"name": "gw", "host": "127.0.0.1", "port": GATEWAY_PORT})
    yield server
    assert server.stop() == 0, server.logs()


def flow_line(callplane: CallplaneServer, doc: dict[str, Any]) -> tuple[str, str]:
    """A new number answered by ``doc``, published: (number, flow id)."""
    flow_id = callplane.api("POST", "Flow/", json={"document": doc})["flow_id"]
    assert callplane.api("POST", f"Flow/{flow_id}/Publish/")["version"] == 1
    number = str(next(_numbers))
    callplane.number(number, None, flow_id=flow_id)
    assert callplane.api("GET", f"Number/{number}/")["flow_id"] == flow_id
    return number, flow_id


def only_run(callplane: CallplaneServer, flow_id: str) -> dict[str, Any]:
    """The flow's one run, once it has ended, with its log."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        runs = callplane.api("GET", f"Flow/{flow_id}/Run/")["objects"]
        if runs and runs[0]["run_status"] != "running":
            assert len(runs) == 1
            return callplane.api("GET", f"Flow/{flow_id}/Run/{runs[0]['run_id']}/")
        time.sleep(0.05)
    raise AssertionError(f"no finished run of flow {flow_id}")


def events(run: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [entry for entry in run["log"] if entry["event"] == event]


@pytest.mark.parametrize(("reason", "code"), [("rejected", 603), ("busy", 486)])
def test_start_hangup_refuses_before_answer(callplane, workdir, reason: str, code: int) -> None:
    doc = {
        "schema": 1,
        "name": f"refuse {reason}",
        "nodes": [node("Start", "start"), node("Hangup_1", "hangup", reason=reason)],
        "edges": [edge("Start", "incoming_call", "Hangup_1")],
    }
    number, flow_id = flow_line(callplane, doc)
    caller = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=code)
    assert caller.returncode == 0, caller.output
    run = only_run(callplane, flow_id)
    assert run["trigger"] == "incoming_call" and run["run_status"] == "completed"
    assert run["variables"]["Start"]["call"]["from"] == CALLER
    assert events(run, "hangup")[0]["sip_code"] == code
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    assert record["sip_response_code"] == code and record["bill_duration"] == 0
    assert record["call_status"] == ("busy" if reason == "busy" else "no-answer")


def dial_report_flow(web: WebhookServer, number: str) -> dict[str, Any]:
    """Start -> Call Forward (5 s) -> one HTTP Request per exit, to /report/{number}/{exit}."""
    forward = node(
        "CallForward_1",
        "call_forward",
        **{"from": "{{Start.call.from}}", "to": "15557654321"},
        timeout=5,
    )
    reports = [
        node(
            f"Report_{exit_}",
            "http_request",
            method="POST",
            url=web.url(f"/report/{number}/{exit_}") + "?node={{CallForward_1.dial_status}}",
            headers={"X-Caller": "{{Start.call.from}}"},
            body={
                "DialStatus": "{{CallForward_1.dial_status}}",
                "DialHangupCause": "{{CallForward_1.dial_hangup_cause}}",
                "DialBLegUUID": "{{CallForward_1.dial_b_leg_uuid}}",
                "CallUUID": "{{Start.call.uuid}}",
            },
        )
        for exit_ in DIAL_EXITS
    ]
    return {
        "schema": 1,
        "name": "dial status reporting",
        "nodes": [node("Start", "start"), forward, *reports],
        "edges": [
            edge("Start", "incoming_call", "CallForward_1"),
            *(edge("CallForward_1", e, f"Report_{e}") for e in DIAL_EXITS),
        ],
    }


@pytest.mark.parametrize(
    ("exit_", "callee", "values", "caller_scenario", "status", "cause"),
    [
        ("answered", "uas_answer.xml", {"ring_ms": 200, "hold_ms": 800}, "uac_dial_answered.xml",
         "completed", "NORMAL_CLEARING"),
        ("busy", "uas_refuse.xml", {"code": 486, "reason": "Busy Here"}, "uac_dial_refused.xml",
         "busy", "USER_BUSY"),
        ("no_answer", "uas_ring.xml", {}, "uac_dial_refused.xml", "no-answer", "NO_ANSWER"),
        ("failed", "uas_refuse.xml", {"code": 503, "reason": "Service Unavailable"},
         "uac_dial_refused.xml", "failed", "NORMAL_TEMPORARY_FAILURE"),
    ],
)  # fmt: skip
def test_call_forward_reports_each_exit_over_http(
    callplane, web, workdir, exit_, callee, values, caller_scenario, status, cause
) -> None:
    number = str(next(_numbers))
    doc = dial_report_flow(web, number)
    flow_id = callplane.api("POST", "Flow/", json={"document": doc})["flow_id"]
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    callplane.number(number, None, flow_id=flow_id)

    uas = SippUas(workdir, callee, GATEWAY_PORT, **values)
    caller = sipp(workdir, caller_scenario, callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0

    request = web.wait_for(f"/report/{number}/{exit_}", timeout=20)[0]
    assert request.method == "POST" and request.headers["X-Caller"] == CALLER
    assert request.params["DialStatus"] == status and request.params["node"] == status
    assert request.params["DialHangupCause"] == cause
    assert bool(request.params["DialBLegUUID"]) is (exit_ == "answered")
    others = [e for e in DIAL_EXITS if e != exit_]
    assert not any(web.seen(f"/report/{number}/{other}") for other in others)

    run = only_run(callplane, flow_id)
    assert run["run_status"] == "completed"
    assert request.params["CallUUID"] == run["call_uuid"]
    dialled = events(run, "dial_result")[0]
    assert dialled["DialStatus"] == status and dialled["DialHangupCause"] == cause
    assert events(run, "http_response")[0]["status_code"] == 200
    visited = [entry["node"] for entry in events(run, "enter")]
    assert visited == ["CallForward_1", f"Report_{exit_}"]
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    assert record["call_status"] == ("completed" if exit_ == "answered" else "no-answer")


def test_call_forward_reports_when_the_caller_hangs_up_during_the_bridge(
    callplane, web, workdir
) -> None:
    """Seed "dial status reporting" (PHLO): the caller's BYE ends the call, and the HTTP
    Request after the ``answered`` exit still sends the report."""
    number = str(next(_numbers))
    flow_id = callplane.api("POST", "Flow/", json={"document": dial_report_flow(web, number)})[
        "flow_id"
    ]
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    callplane.number(number, None, flow_id=flow_id)

    uas = SippUas(workdir, "uas_answer_until_bye.xml", GATEWAY_PORT, ring_ms=100)
    caller = sipp(workdir, "uac_dial_answered_bye.xml", callplane.sip_port, to=number, hold_ms=600)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0

    request = web.wait_for(f"/report/{number}/answered", timeout=20)[0]
    assert request.params["DialStatus"] == "completed"
    assert request.params["DialHangupCause"] == "NORMAL_CLEARING"
    assert request.params["DialBLegUUID"]
    run = only_run(callplane, flow_id)
    assert run["run_status"] == "completed"
    assert [e["event"] for e in run["log"] if e["node"] == "CallForward_1"][-2:] == [
        "call_ended",
        "exit",
    ]
    assert events(run, "http_response")[0]["status_code"] == 200
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    assert record["call_status"] == "completed" and record["hangup_source"] == "Caller"


def test_an_http_request_under_way_when_the_caller_leaves_finishes_and_the_run_goes_on(
    callplane, web, workdir
) -> None:
    """A node that needs no call is not cut off by the caller's CANCEL; the nodes after it
    that need no call run, and the first that needs the call ends the run."""
    number = str(next(_numbers))
    slow = web.set(f"/slow/{number}", "{}", "application/json", delay=1.5)
    doc = {
        "schema": 1,
        "name": "slow lookup",
        "nodes": [
            node("Start", "start"),
            node("Lookup", "http_request", method="POST", url=slow),
            node(
                "Note", "set_variable", variables={"looked_up": "{{Lookup.response.status_code}}"}
            ),
            node("Greet", "speak", text="hello"),
        ],
        "edges": [
            edge("Start", "incoming_call", "Lookup"),
            edge("Lookup", "success", "Note"),
            edge("Note", "next", "Greet"),
        ],
    }
    number, flow_id = flow_line(callplane, doc)
    caller = sipp(workdir, "uac_cancel.xml", callplane.sip_port, to=number, pause_ms=300)
    assert caller.returncode == 0, caller.output

    run = only_run(callplane, flow_id)
    assert run["run_status"] == "completed"
    assert run["variables"]["Note"] == {"looked_up": "200"}
    assert events(run, "http_response")[0]["status_code"] == 200
    ended = events(run, "call_ended")
    assert [entry["node"] for entry in ended] == ["Lookup", "Greet"]
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    assert record["call_status"] == "cancel" and record["sip_response_code"] == 487
