"""Nodes that need no call: Branch, Set Variable, Counter.

Branch compares the rendered ``variable`` with each condition in order; the
first that holds names the exit, else ``else``. ``greater_than``/``less_than``
compare numbers (a value that is not a number never matches); ``regex`` searches.

Counter counts per flow and counter name in this process (it starts again at 0
when Callplane restarts); past ``limit`` it leaves through ``limit_reached``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from callplane.flows.components import Operator
from callplane.flows.context import RunContext
from callplane.flows.model import Node


async def branch(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    value = str(ctx.render(settings["variable"]))
    for condition in settings["conditions"]:
        operand = str(ctx.render(str(condition["value"])))
        if holds(Operator(condition["operator"]), value, operand):
            ctx.log(node.id, "branch", value=value, matched=condition["name"])
            return str(condition["name"])
    ctx.log(node.id, "branch", value=value, matched="else")
    return "else"


def holds(operator: Operator, value: str, operand: str) -> bool:
    if operator is Operator.EQUALS:
        return value == operand
    if operator is Operator.NOT_EQUALS:
        return value != operand
    if operator is Operator.CONTAINS:
        return operand in value
    if operator is Operator.REGEX:
        try:
            return re.search(operand, value) is not None
        except re.error:
            return False
    left, right = _number(value), _number(operand)
    if left is None or right is None:
        return False
    return left > right if operator is Operator.GREATER_THAN else left < right


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


async def set_variable(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    values = {name: ctx.render(value) for name, value in settings["variables"].items()}
    ctx.set(node.id, values)
    return "next"


async def counter(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    key = (ctx.run.flow_id, str(ctx.render(settings["counter"])))
    count = ctx.counters.get(key, 0) + settings["step"]
    ctx.counters[key] = count
    ctx.set(node.id, {"count": count})
    limit = settings.get("limit")
    return "limit_reached" if limit is not None and count > limit else "next"
