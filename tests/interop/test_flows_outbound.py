"""Flows that place calls: the plivo SDK's PhloClient runs a published flow on
`callplane serve`; Initiate Call and Call Forward ring SIPp user agent servers
(by SIP URI, or by number through a SIP trunk configured over REST), the nodes
after the answer act on the answered call, and HTTP Request nodes report to a
real HTTP server. Each run's log and each call's one record are read back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.flows.examples import edge, node
from tests.interop.harness import (
    CallplaneServer,
    SippUas,
    WebhookServer,
    free_port,
)

GATEWAY_PORT = free_port()
TRUNK_NUMBER = "15557000001"  # routed through the trunk to a SIPp UAS on GATEWAY_PORT
CALLER_ID = "14155550100"


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-flow-calls")).start()
    server.api("POST", "Trunk/", json={"name": "gw", "host": "127.0.0.1", "port": GATEWAY_PORT})
    yield server
    assert server.stop() == 0, server.logs()


def run_flow(
    callplane: CallplaneServer, phlo_client: Any, doc: dict[str, Any], **payload: str
) -> str:
    """Publish ``doc`` and run it through the SDK; the run's path in the REST API."""
    flow_id = callplane.api("POST", "Flow/", json={"document": doc})["flow_id"]
    assert callplane.api("POST", f"Flow/{flow_id}/Publish/")["version"] == 1
    response = phlo_client.phlo.get(flow_id).run(**payload)
    return f"Flow/{flow_id}/Run/{response.phlo_run_id}/"


def finished(callplane: CallplaneServer, run_path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = callplane.api("GET", run_path)
        if run["run_status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_path} did not end")


def events(run: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [entry for entry in run["log"] if entry["event"] == event]


def records(callplane: CallplaneServer, call_uuid: str) -> list[dict[str, Any]]:
    """The final records of a call and its B legs (they are written behind the run)."""
    deadline = time.monotonic() + 10
    while True:
        listing = callplane.api("GET", "Call/", params={"limit": 20})["objects"]
        found = [r for r in listing if call_uuid in (r["call_uuid"], r.get("parent_call_uuid"))]
        if (found and all(r["state"] == "ended" for r in found)) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def report(node_id: str, url: str, **body: str) -> dict[str, Any]:
    return node(node_id, "http_request", method="POST", url=url, body=body)


def initiate_flow(web: WebhookServer, path: str) -> dict[str, Any]:
    """Start(api) -> Initiate Call -> answered: Speak, report, Hangup; else a report."""
    call = node(
        "Call", "initiate_call", **{"from": CALLER_ID, "to": "{{Start.http.params.to}}"}, timeout=10
    )
    fields = {
        "uuid": "{{Call.call_uuid}}",
        "status": "{{Call.call_status}}",
        "cause": "{{Call.hangup_cause}}",
    }
    return {
        "schema": 1,
        "name": "call and greet",
        "nodes": [
            node("Start", "start", api_params={"to": ""}),
            call,
            node("Greet", "speak", text="Hello from a flow"),
            report("Answered", web.url(f"{path}/answered"), **fields),
            node("Bye", "hangup"),
            *(report(f"Report_{e}", web.url(f"{path}/{e}"), **fields) for e in UNANSWERED),
        ],
        "edges": [
            edge("Start", "api_request", "Call"),
            edge("Call", "answered", "Greet"),
            edge("Greet", "next", "Answered"),
            edge("Answered", "success", "Bye"),
            *(edge("Call", e, f"Report_{e}") for e in UNANSWERED),
        ],
    }


UNANSWERED = ("busy", "no_answer", "failed")


@pytest.mark.parametrize("by", ["sip_uri", "trunk_number"])
def test_initiate_call_runs_the_answered_branch_on_the_callee(
    callplane, web, phlo_client, workdir, by: str
) -> None:
    if by == "sip_uri":
        callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
        to = callee.uri()
    else:
        callee = SippUas(workdir, "uas_answer_until_bye.xml", GATEWAY_PORT, ring_ms=100)
        to = TRUNK_NUMBER
    path = f"/initiate/{by}"
    run_path = run_flow(callplane, phlo_client, initiate_flow(web, path), to=to)

    assert callee.result().returncode == 0  # answered, then our BYE from the Hangup node
    sent = web.wait_for(f"{path}/answered", timeout=20)[0].params
    run = finished(callplane, run_path)
    assert run["run_status"] == "completed" and run["trigger"] == "api_request"
    assert sent == {"uuid": run["call_uuid"], "status": "in-progress", "cause": ""}
    assert [e["node"] for e in events(run, "enter")] == ["Call", "Greet", "Answered", "Bye"]
    assert events(run, "call")[0]["to"] == to
    assert events(run, "call_result")[0]["ring_status"] is True
    assert events(run, "hangup")[0]["reason"] == "normal"
    (record,) = records(callplane, run["call_uuid"])
    assert record["call_direction"] == "outbound" and record["call_status"] == "completed"
    assert record["from_number"] == CALLER_ID
    assert not any(web.seen(f"{path}/{e}") for e in UNANSWERED)


@pytest.mark.parametrize(
    ("exit_", "values", "status", "cause"),
    [
        ("busy", {"code": 486, "reason": "Busy Here"}, "busy", "USER_BUSY"),
        ("failed", {"code": 503, "reason": "Service Unavailable"}, "failed",
         "NORMAL_TEMPORARY_FAILURE"),
    ],
)  # fmt: skip
def test_initiate_call_refused_leaves_through_its_exit(
    callplane, web, phlo_client, workdir, exit_: str, values: dict[str, Any], status, cause
) -> None:
    callee = SippUas(workdir, "uas_refuse.xml", **values)
    path = f"/refused/{exit_}"
    run_path = run_flow(callplane, phlo_client, initiate_flow(web, path), to=callee.uri())

    assert callee.result().returncode == 0
    sent = web.wait_for(f"{path}/{exit_}", timeout=20)[0].params
    run = finished(callplane, run_path)
    assert sent == {"uuid": run["call_uuid"], "status": status, "cause": cause}
    assert run["run_status"] == "completed"
    assert events(run, "exit")[0]["exit"] == exit_
    (record,) = records(callplane, run["call_uuid"])
    assert record["call_status"] == status and record["bill_duration"] == 0
    assert not web.seen(f"{path}/answered")


def forward_flow(web: WebhookServer, path: str) -> dict[str, Any]:
    """Start(api) -> Call Forward from {{from}} to {{to}} -> one report per exit."""
    forward = node(
        "Forward",
        "call_forward",
        **{"from": "{{Start.http.params.from}}", "to": "{{Start.http.params.to}}"},
        timeout=10,
    )
    fields = {
        "status": "{{Forward.dial_status}}",
        "cause": "{{Forward.dial_hangup_cause}}",
        "a_leg": "{{Forward.dial_a_leg_uuid}}",
        "b_leg": "{{Forward.dial_b_leg_uuid}}",
    }
    exits = ("answered", *UNANSWERED)
    return {
        "schema": 1,
        "name": "click to call",
        "nodes": [
            node("Start", "start", api_params={"from": "", "to": ""}),
            forward,
            *(report(f"Report_{e}", web.url(f"{path}/{e}"), **fields) for e in exits),
        ],
        "edges": [
            edge("Start", "api_request", "Forward"),
            *(edge("Forward", e, f"Report_{e}") for e in exits),
        ],
    }


def test_call_forward_without_a_call_calls_from_then_forwards_to(
    callplane, web, phlo_client, workdir
) -> None:
    agent = SippUas(workdir, "uas_answer_until_bye.xml", GATEWAY_PORT, ring_ms=100)
    customer = SippUas(workdir, "uas_answer.xml", ring_ms=100, hold_ms=800)
    path = "/forward/answered"
    doc = forward_flow(web, "/forward")
    run_path = run_flow(callplane, phlo_client, doc, to=customer.uri(), **{"from": TRUNK_NUMBER})

    assert customer.result().returncode == 0  # answered, bridged, hung up after 800 ms
    assert agent.result().returncode == 0  # answered first, then BYE when the flow ended
    sent = web.wait_for(path, timeout=20)[0].params
    run = finished(callplane, run_path)
    assert sent["status"] == "completed" and sent["cause"] == "NORMAL_CLEARING"
    assert sent["a_leg"] == run["call_uuid"] and sent["b_leg"]
    assert run["run_status"] == "completed"
    assert events(run, "call")[0]["to"] == TRUNK_NUMBER
    assert events(run, "call")[0]["caller_id"] == "15550001111"  # the customer's number
    assert events(run, "dial_result")[0]["DialStatus"] == "completed"
    by_uuid = {r["call_uuid"]: r for r in records(callplane, run["call_uuid"])}
    assert set(by_uuid) == {run["call_uuid"], sent["b_leg"]}
    assert by_uuid[run["call_uuid"]]["to_number"] == TRUNK_NUMBER
    assert by_uuid[sent["b_leg"]]["from_number"] == TRUNK_NUMBER  # the customer sees the agent
    assert all(r["call_status"] == "completed" for r in by_uuid.values())


def test_call_forward_without_a_call_reports_an_unanswered_from(
    callplane, web, phlo_client, workdir
) -> None:
    agent = SippUas(workdir, "uas_refuse.xml", code=486, reason="Busy Here")
    run_path = run_flow(
        callplane, phlo_client, forward_flow(web, "/agent"), to="15550002222",
        **{"from": agent.uri()},
    )  # fmt: skip
    assert agent.result().returncode == 0
    sent = web.wait_for("/agent/busy", timeout=20)[0].params
    run = finished(callplane, run_path)
    assert sent == {"status": "busy", "cause": "USER_BUSY", "a_leg": run["call_uuid"], "b_leg": ""}
    assert not events(run, "dial")  # nobody else was called
    (record,) = records(callplane, run["call_uuid"])
    assert record["call_status"] == "busy"
