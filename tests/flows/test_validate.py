"""PHLO-like validation on the issue's two flows and broken variants, with the exact errors."""

from __future__ import annotations

from typing import Any

import pytest

from callplane.flows import Flow, validate
from callplane.flows.validate import by_node
from tests.flows.examples import changed, dial_status, edge, node, reject_calls


def _errors(doc: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in validate(Flow.parse(doc))]


@pytest.mark.parametrize("make", [reject_calls, dial_status])
def test_issue_examples_are_valid(make: Any) -> None:
    assert _errors(make()) == []


def test_busy_reject_and_api_trigger_are_valid() -> None:
    doc = changed(reject_calls(), "Hangup_1", reason="busy")
    doc["nodes"][0]["settings"] = {"api_params": {"to": "14155550100"}}
    doc["nodes"].append(
        node("Call_1", "initiate_call", **{"from": "1415", "to": "{{Start.http.params.to}}"})
    )
    doc["nodes"].append(node("Say_1", "speak", text="Hi {{Start.http.params.to}}"))
    doc["edges"] += [edge("Start", "api_request", "Call_1"), edge("Call_1", "answered", "Say_1")]
    assert _errors(doc) == []


def test_unreachable_node() -> None:
    doc = reject_calls()
    doc["nodes"].append(node("Speak_1", "speak", text="never heard"))
    assert _errors(doc) == ["Speak_1: not reachable from Start"]


def test_missing_required_setting() -> None:
    doc = changed(dial_status(), "CallForward_1", to=None)
    assert _errors(doc) == ["CallForward_1: settings.to: required"]


def test_unconnected_exit() -> None:
    doc = dial_status()
    doc["nodes"][1] = node("Call_1", "initiate_call", **{"from": "1415", "to": "1416"})
    doc["nodes"] = doc["nodes"][:2]
    doc["edges"] = [edge("Start", "api_request", "Call_1")]
    assert _errors(doc) == ["Call_1: exit 'answered' is not connected"]


def test_a_call_forward_may_end_the_flow_on_any_exit() -> None:
    """Plivo's screening PHLO ends at its Call forwarding, none of its exits connected."""
    doc = dial_status()
    doc["nodes"] = doc["nodes"][:2]
    doc["edges"] = doc["edges"][:1]
    assert _errors(doc) == []


def test_answered_exit_may_end_the_flow() -> None:
    doc = dial_status()
    doc["edges"] = [e for e in doc["edges"] if e["exit"] != "answered"]
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "HTTPRequest_1"]
    assert _errors(doc) == []


def test_unknown_template_variable() -> None:
    doc = changed(
        dial_status(),
        "HTTPRequest_2",
        body={"status": "{{CallForward_1.status}}", "who": "{{Caller.number}}"},
        url="https://x.example/{{Start.call.from",
    )
    assert _errors(doc) == [
        "HTTPRequest_2: settings.url: '{{' at character 19 does not start a {{Node.path}} "
        "reference",
        "HTTPRequest_2: settings.body: {{CallForward_1.status}} is not a variable of "
        "CallForward_1 (it sets: dial_status, dial_ring_status, dial_hangup_cause, "
        "dial_a_leg_uuid, dial_b_leg_uuid)",
        "HTTPRequest_2: settings.body: {{Caller.number}} names no node 'Caller'",
    ]


def test_start_node_count() -> None:
    doc = reject_calls()
    doc["nodes"] = doc["nodes"][1:]
    doc["edges"] = []
    assert _errors(doc) == ["the flow needs a Start node"]
    doc = reject_calls()
    doc["nodes"].append(node("Start_2", "start"))
    doc["edges"].append(edge("Start_2", "incoming_sms", "Hangup_1"))
    assert _errors(doc) == ["Start_2: only one Start node is allowed"]


def test_start_needs_a_connected_trigger() -> None:
    doc = reject_calls()
    doc["edges"] = []
    assert _errors(doc) == [
        "Start: connect at least one of its exits (incoming_call, incoming_sms, api_request)",
        "Hangup_1: not reachable from Start",
    ]


def test_bad_edges() -> None:
    doc = dial_status()
    doc["edges"] += [
        edge("Ghost", "next", "Start"),
        edge("CallForward_1", "answered", "HTTPRequest_2"),
        edge("CallForward_1", "ringing", "HTTPRequest_2"),
        edge("HTTPRequest_1", "success", "Nowhere"),
        edge("HTTPRequest_2", "success", "Start"),
    ]
    assert _errors(doc) == [
        "edges[5]: from 'Ghost', which is not a node",
        "CallForward_1: exit 'answered' is connected more than once",
        "CallForward_1: exit 'ringing' does not exist (exits: answered, no_answer, busy, failed)",
        "HTTPRequest_1: exit 'success' leads to 'Nowhere', which is not a node",
        "HTTPRequest_2: exit 'success' leads back to Start",
    ]


def test_unknown_and_unavailable_components() -> None:
    doc = reject_calls()
    doc["nodes"][1] = node("Hangup_1", "fax")
    doc["nodes"].append(node("Sms_1", "send_sms", **{"from": "1", "to": "2", "text": "x"}))
    doc["edges"].append(edge("Hangup_1", "next", "Sms_1"))
    errors = _errors(doc)
    assert errors[0].startswith("Hangup_1: unknown component type 'fax' (known: start, hangup,")
    assert errors[1:] == ["Sms_1: Send SMS is not available yet: Callplane has no messaging"]


def test_ivr_and_branch_exits_must_be_connected() -> None:
    doc = reject_calls()
    doc["nodes"].append(node("Menu_1", "ivr_menu", prompt="1 or 2", choices=["1", "2"]))
    conditions = [{"name": "vip", "operator": "regex", "value": "^1415"}]
    doc["nodes"].append(
        node("Branch_1", "branch", variable="{{Menu_1.digits}}", conditions=conditions)
    )
    doc["edges"] = [
        edge("Start", "incoming_call", "Menu_1"),
        edge("Menu_1", "1", "Branch_1"),
        edge("Branch_1", "else", "Hangup_1"),
    ]
    assert _errors(doc) == [
        "Menu_1: exit '2' is not connected",
        "Branch_1: exit 'vip' is not connected",
    ]
    doc["edges"] += [edge("Menu_1", "2", "Menu_1"), edge("Branch_1", "vip", "Hangup_1")]
    assert _errors(doc) == []


def test_set_variable_declares_its_variables() -> None:
    doc = reject_calls()
    doc["nodes"].insert(1, node("Vars", "set_variable", variables={"lang": "de"}))
    doc["nodes"].append(node("Say", "speak", text="{{Vars.lang}} {{Vars.voice}}"))
    doc["edges"] = [
        edge("Start", "incoming_call", "Vars"),
        edge("Vars", "next", "Say"),
        edge("Say", "next", "Hangup_1"),
    ]
    assert _errors(doc) == [
        "Say: settings.text: {{Vars.voice}} is not a variable of Vars (it sets: lang)"
    ]


def test_errors_grouped_by_node() -> None:
    doc = changed(dial_status(), "CallForward_1", to=None, timeout=1)
    problems = validate(Flow.parse(doc))
    assert by_node(problems) == {
        "CallForward_1": ["settings.timeout: must be between 5 and 600", "settings.to: required"]
    }
    assert problems[0].to_dict() == {
        "node": "CallForward_1",
        "message": "settings.timeout: must be between 5 and 600",
    }
