"""The component catalog the designer is built from agrees with ``flows.components``."""

from __future__ import annotations

from typing import Any

import pytest

from callplane.api.flow_components import EXIT_RULES, component
from callplane.flows.components import COMPONENTS
from tests.interop.harness import CallplaneServer


def _apply(rule: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """The designer's reading of an exit rule (console/src/flow/catalog.ts ``exitsOf``)."""
    value = settings.get(rule["setting"])
    before, after = rule.get("before", []), rule.get("after", [])
    if value in (None, "", [], {}):
        return rule.get("otherwise", before + after)
    take = {
        "list": lambda: [str(v) for v in value],
        "keys": lambda: list(value),
        "names": lambda: [str(c["name"]) for c in value],
        "if_set": lambda: rule["when_set"],
    }[rule["take"]]
    return before + take() + after


SAMPLES = {
    "ivr_menu": [{}, {"choices": ["1", "2", "#"]}],
    "branch": [{}, {"conditions": [{"name": "vip", "operator": "equals", "value": "1"}]}],
    "get_input": [{}, {"patterns": {"sales": "^1$", "support": "^2$"}}],
    "counter": [{}, {"limit": 3}],
}


@pytest.mark.parametrize(
    ("kind", "settings"), [(k, s) for k, samples in SAMPLES.items() for s in samples]
)
def test_exit_rules_give_the_components_exits(kind: str, settings: dict[str, Any]) -> None:
    assert _apply(EXIT_RULES[kind], settings) == list(COMPONENTS[kind].exits(settings))


def test_catalog_entry_of_call_forward() -> None:
    entry = component(COMPONENTS["call_forward"])
    assert entry["exits"] == ["answered", "no_answer", "busy", "failed"]
    assert entry["exit_rule"] is None
    to = next(s for s in entry["settings"] if s["name"] == "to")
    assert to == {
        "name": "to",
        "kind": "destinations",
        "required": True,
        "default": None,
        "choices": [],
        "minimum": None,
        "maximum": None,
    }


def test_catalog_endpoint_lists_every_component(callplane: CallplaneServer) -> None:
    found = callplane.api("GET", "Flow/Components/")["objects"]
    assert [c["type"] for c in found] == list(COMPONENTS)
    assert found == [component(spec) for spec in COMPONENTS.values()]
