"""``/v1/Account/{auth_id}/Flow/Components/``: the component catalog the console's
designer is built from, straight from ``flows.components`` (palette, settings, exits).

Most components have fixed exits. Four compute theirs from a setting; for those the
catalog carries a rule (``EXIT_RULES``) the designer applies as the user types:
``before + items(setting) + after``, or ``otherwise`` while the setting is empty.
``items`` is read by ``take``: ``list`` (the strings of a list), ``keys`` (an object's
keys), ``names`` (each object's ``name``), ``if_set`` (``when_set`` if the setting has
a value). Tests check each rule against the component's own exit function.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import authenticate, reply
from callplane.flows.components import COMPONENTS, Component, Setting

EXIT_RULES: dict[str, dict[str, Any]] = {
    "ivr_menu": {"setting": "choices", "take": "list", "after": ["no_input", "wrong_input"]},
    "branch": {"setting": "conditions", "take": "names", "after": ["else"]},
    "get_input": {
        "setting": "patterns",
        "take": "keys",
        "after": ["no_match", "no_input"],
        "otherwise": ["input", "no_input"],
    },
    "counter": {
        "setting": "limit",
        "take": "if_set",
        "before": ["next"],
        "when_set": ["limit_reached"],
    },
}


def _setting(setting: Setting) -> dict[str, Any]:
    return {
        "name": setting.name,
        "kind": setting.kind.value,
        "required": setting.required,
        "default": setting.default,
        "choices": list(setting.choices),
        "minimum": setting.minimum,
        "maximum": setting.maximum,
    }


def component(spec: Component) -> dict[str, Any]:
    """One palette entry; ``exits`` are those of a node with the default settings."""
    defaults = {s.name: s.default for s in spec.settings if s.default is not None}
    return {
        "type": spec.type,
        "label": spec.label,
        "settings": [_setting(s) for s in spec.settings],
        "exits": list(spec.exits(defaults)),
        "exit_rule": EXIT_RULES.get(spec.type),
        "may_end": sorted(spec.may_end),
        "unavailable": spec.unavailable,
    }


async def list_(request: Request) -> Response:
    await authenticate(request)
    return reply(objects=[component(spec) for spec in COMPONENTS.values()])
