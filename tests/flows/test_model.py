"""Flow documents: exact round trips, and shape errors that name the node and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from callplane.errors import ValidationError
from callplane.flows import Flow, FlowError
from tests.flows.examples import dial_status, reject_calls

GOLDEN = Path(__file__).parent / "data" / "dial_status.json"


@pytest.mark.parametrize("make", [reject_calls, dial_status])
def test_document_round_trips(make: Any) -> None:
    doc = make()
    flow = Flow.parse(doc)
    assert flow.to_dict() == doc
    assert list(flow.to_dict()["nodes"][0]) == ["id", "type", "name", "settings", "position"]
    assert Flow.loads(flow.dumps()) == flow


def test_golden_file_round_trips_byte_for_byte() -> None:
    text = GOLDEN.read_text()
    assert Flow.loads(text).dumps() == text
    assert Flow.loads(text).to_dict() == dial_status()


def test_parsed_flow_is_read_only() -> None:
    doc = dial_status()
    flow = Flow.parse(doc)
    doc["nodes"][1]["settings"]["timeout"] = 99
    node = flow.node("CallForward_1")
    assert node is not None and node.settings["timeout"] == 20
    with pytest.raises(TypeError):
        node.settings["timeout"] = 5  # type: ignore[index]
    flow.to_dict()["nodes"][1]["settings"]["timeout"] = 1
    assert node.settings["timeout"] == 20


def test_optional_node_keys_get_defaults() -> None:
    flow = Flow.parse({"schema": 1, "name": "n", "nodes": [{"id": "Start", "type": "start"}]})
    assert flow.to_dict()["nodes"] == [
        {
            "id": "Start",
            "type": "start",
            "name": "Start",
            "settings": {},
            "position": {"x": 0, "y": 0},
        }
    ]
    assert flow.edges == ()


def _error(doc: Any) -> FlowError:
    with pytest.raises(FlowError) as caught:
        Flow.parse(doc)
    return caught.value


def _with_node(**changes: Any) -> dict[str, Any]:
    doc = reject_calls()
    doc["nodes"][1].update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "document: must be a JSON object"),
        ({"name": "x"}, "schema: required"),
        ({"schema": 2, "name": "x"}, "schema: unsupported version 2; this Callplane reads 1"),
        ({"schema": 1, "name": ""}, "name: must be a non-empty string"),
        (
            {"schema": 1, "name": "x", "colour": 1},
            "document: unknown key 'colour' (allowed: edges, name, nodes, schema)",
        ),
        ({"schema": 1, "name": "x", "nodes": {}}, "nodes: must be a JSON array"),
        (
            _with_node(id="1st"),
            "nodes[1].id: must be a letter then up to 63 letters, digits or "
            "underscores (e.g. CallForward_1)",
        ),
        (_with_node(id="Start"), "node 'Start': nodes[1]: id: used by an earlier node"),
        (_with_node(type=""), "node 'Hangup_1': nodes[1]: type: must be a non-empty string"),
        (_with_node(settings=[]), "node 'Hangup_1': nodes[1].settings: must be a JSON object"),
        (
            _with_node(position={"x": "1"}),
            "node 'Hangup_1': nodes[1].position: x: must be a number",
        ),
        (
            _with_node(extra=1),
            "node 'Hangup_1': nodes[1]: unknown key 'extra' (allowed: id, name, "
            "position, settings, type)",
        ),
    ],
)
def test_shape_errors_name_node_and_field(doc: Any, message: str) -> None:
    assert str(_error(doc)) == message


def test_edge_errors() -> None:
    doc = reject_calls()
    doc["edges"][0]["exit"] = ""
    assert str(_error(doc)) == "edges[0]: exit: must be a non-empty string"
    doc["edges"] = [{"from": "Start", "exit": "x", "to": "Hangup_1", "label": "y"}]
    assert str(_error(doc)).startswith("edges[0]: unknown key 'label'")


def test_flow_error_is_a_validation_error_of_the_document_field() -> None:
    error = _error(_with_node(type=3))
    assert isinstance(error, ValidationError)
    assert (error.field, error.node, error.path) == ("document", "Hangup_1", "nodes[1]")


def test_loads_reports_bad_json() -> None:
    with pytest.raises(FlowError, match="not valid JSON"):
        Flow.loads("{")
    with pytest.raises(FlowError, match="not valid JSON"):
        Flow.loads("[" * 100_000)


def test_parse_does_not_keep_a_reference_to_the_input() -> None:
    doc = reject_calls()
    original = copy.deepcopy(doc)
    Flow.parse(doc).to_dict()["nodes"].clear()
    assert doc == original
