"""{{Node.path}} templates: parse, references, render."""

from __future__ import annotations

import pytest

from callplane.flows import templates
from callplane.flows.templates import Reference, TemplateError


def test_parse_splits_literals_and_references() -> None:
    parts = templates.parse("Call from {{Start.call.from}} ended: {{ CallForward_1.dial_status }}")
    assert parts == (
        "Call from ",
        Reference("Start", "call.from"),
        " ended: ",
        Reference("CallForward_1", "dial_status"),
    )
    assert templates.parse("no templates") == ("no templates",)
    assert templates.parse("") == ()
    assert str(Reference("Start", "call.from")) == "{{Start.call.from}}"


def test_references() -> None:
    text = "{{HTTPRequest_1.response.body.items.0.id}}-{{Start.http.params.to}}"
    assert templates.references(text) == [
        Reference("HTTPRequest_1", "response.body.items.0.id"),
        Reference("Start", "http.params.to"),
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [("{{Start}}", 1), ("x {{Start.call.from}", 3), ("{{ }}", 1), ("a{{1x.y}}", 2)],
)
def test_malformed_references(text: str, where: int) -> None:
    with pytest.raises(TemplateError, match=f"at character {where} does not start"):
        templates.parse(text)


def test_render() -> None:
    variables = {
        "Start": {"call": {"from": "14155550100"}},
        "CallForward_1": {"dial_status": "busy"},
        "HTTPRequest_1": {"response": {"status_code": 201, "body": {"items": [{"id": "a"}]}}},
    }
    text = (
        "{{Start.call.from}}:{{CallForward_1.dial_status}}:{{HTTPRequest_1.response.status_code}}"
    )
    assert templates.render(text, variables) == "14155550100:busy:201"
    assert templates.render("{{HTTPRequest_1.response.body.items.0.id}}", variables) == "a"
    assert (
        templates.render("{{HTTPRequest_1.response.body}}", variables) == '{"items": [{"id": "a"}]}'
    )
    assert templates.render("[{{Start.call.to}}]", variables) == "[]"
    with pytest.raises(KeyError):
        templates.render("{{Start.call.from.x}}", variables, strict=True)


def test_strings_in_walks_json() -> None:
    value = {"a": ["x", 1, {"k": "y"}], "b": True}
    assert list(templates.strings_in(value)) == ["a", "x", "k", "y", "b"]
