"""The flows of issue 6, as documents: "reject incoming calls" and "dial status reporting"."""

from __future__ import annotations

import copy
from typing import Any

DIAL_EXITS = ("answered", "no_answer", "busy", "failed")


def node(node_id: str, kind: str, x: int = 0, y: int = 0, **settings: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": kind,
        "name": node_id.replace("_", " "),
        "settings": settings,
        "position": {"x": x, "y": y},
    }


def edge(source: str, exit_: str, target: str) -> dict[str, str]:
    return {"from": source, "exit": exit_, "to": target}


def reject_calls() -> dict[str, Any]:
    """Start -> Hangup (rejected): refuse every incoming call with 603."""
    return {
        "schema": 1,
        "name": "reject incoming calls",
        "nodes": [node("Start", "start"), node("Hangup_1", "hangup", 0, 150, reason="rejected")],
        "edges": [edge("Start", "incoming_call", "Hangup_1")],
    }


def _report(index: int) -> dict[str, Any]:
    return node(
        f"HTTPRequest_{index}",
        "http_request",
        (index - 1) * 250,
        300,
        method="POST",
        url="https://hooks.example.com/dial",
        headers={"X-Flow": "dial-status"},
        body={
            "status": "{{CallForward_1.dial_status}}",
            "caller": "{{Start.call.from}}",
            "callee_leg": "{{CallForward_1.dial_b_leg_uuid}}",
        },
    )


def dial_status() -> dict[str, Any]:
    """Start -> Call Forward -> an HTTP Request on each of its four exits."""
    forward = node(
        "CallForward_1",
        "call_forward",
        0,
        150,
        **{"from": "{{Start.call.from}}", "to": "14155550100,sip:alice@example.com"},
        timeout=20,
    )
    return {
        "schema": 1,
        "name": "dial status reporting",
        "nodes": [node("Start", "start"), forward, *(_report(i) for i in range(1, 5))],
        "edges": [
            edge("Start", "incoming_call", "CallForward_1"),
            *(edge("CallForward_1", e, f"HTTPRequest_{i}") for i, e in enumerate(DIAL_EXITS, 1)),
        ],
    }


def changed(doc: dict[str, Any], node_id: str, **settings: Any) -> dict[str, Any]:
    """A copy of ``doc`` with settings of ``node_id`` replaced (None removes one)."""
    doc = copy.deepcopy(doc)
    target = next(n for n in doc["nodes"] if n["id"] == node_id)
    for name, value in settings.items():
        if value is None:
            target["settings"].pop(name, None)
        else:
            target["settings"][name] = value
    return doc
