"""What keeps a flow from being published, listed per node, like PHLO's Validate:

- exactly one Start node;
- every node of a known, available component type, with its required settings
  present and every setting well-typed;
- every edge from an existing exit of an existing node to an existing node
  (not back to Start), and each exit connected at most once;
- every exit connected, unless its component lets it end the flow;
- every node reachable from Start;
- every ``{{Node.path}}`` template well-formed and naming a variable that node sets.

A flow is valid when ``validate(flow) == []``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from callplane.flows import templates
from callplane.flows.components import COMPONENTS, Component, check_settings, produces
from callplane.flows.model import Edge, Flow, Node

START = "start"


@dataclass(frozen=True, slots=True)
class Problem:
    node: str | None  # None: the flow as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "message": self.message}


@dataclass(frozen=True, slots=True)
class _Checked:
    """A node whose component is known: its effective settings and exits."""

    node: Node
    component: Component
    settings: Mapping[str, Any]
    exits: tuple[str, ...]


def validate(flow: Flow) -> list[Problem]:
    """Every problem: the flow's own first, then each node's in document order."""
    problems = _start_problems(flow)
    checked: dict[str, _Checked] = {}
    for node in flow.nodes:
        problems += _node_problems(node, checked)
    problems += _edge_problems(flow, checked)
    problems += _exit_problems(flow, checked)
    problems += _reach_problems(flow)
    for item in checked.values():
        problems += _template_problems(item, checked)
    order = {node.id: index for index, node in enumerate(flow.nodes)}
    return sorted(problems, key=lambda p: -1 if p.node is None else order.get(p.node, -1))


def by_node(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """``{"CallForward_1": [...], "flow": [...]}``: the messages grouped per node."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        grouped.setdefault(problem.node or "flow", []).append(problem.message)
    return grouped


def _starts(flow: Flow) -> list[Node]:
    return [node for node in flow.nodes if node.type == START]


def _start_problems(flow: Flow) -> list[Problem]:
    starts = _starts(flow)
    if not starts:
        return [Problem(None, "the flow needs a Start node")]
    return [Problem(extra.id, "only one Start node is allowed") for extra in starts[1:]]


def _node_problems(node: Node, checked: dict[str, _Checked]) -> list[Problem]:
    component = COMPONENTS.get(node.type)
    if component is None:
        known = ", ".join(COMPONENTS)
        return [Problem(node.id, f"unknown component type {node.type!r} (known: {known})")]
    messages, settings = check_settings(component, node.settings)
    checked[node.id] = _Checked(node, component, settings, component.exits(settings))
    if component.unavailable:
        messages.insert(0, component.unavailable)
    return [Problem(node.id, message) for message in messages]


def _edge_problems(flow: Flow, checked: Mapping[str, _Checked]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for index, edge in enumerate(flow.edges):
        if flow.node(edge.source) is None:
            message = f"edges[{index}]: from {edge.source!r}, which is not a node"
            problems.append(Problem(None, message))
            continue
        problems += _edge_target(flow, edge)
        problems += _edge_exit(checked.get(edge.source), edge)
        if (edge.source, edge.exit) in seen:
            problems.append(Problem(edge.source, f"exit {edge.exit!r} is connected more than once"))
        seen.add((edge.source, edge.exit))
    return problems


def _edge_target(flow: Flow, edge: Edge) -> list[Problem]:
    target = flow.node(edge.target)
    if target is None:
        message = f"exit {edge.exit!r} leads to {edge.target!r}, which is not a node"
        return [Problem(edge.source, message)]
    if target.type == START:
        return [Problem(edge.source, f"exit {edge.exit!r} leads back to Start")]
    return []


def _edge_exit(source: _Checked | None, edge: Edge) -> list[Problem]:
    if source is None or edge.exit in source.exits:
        return []
    exits = ", ".join(source.exits) or "none"
    return [Problem(edge.source, f"exit {edge.exit!r} does not exist (exits: {exits})")]


def _exit_problems(flow: Flow, checked: Mapping[str, _Checked]) -> list[Problem]:
    connected = {(edge.source, edge.exit) for edge in flow.edges}
    problems: list[Problem] = []
    for item in checked.values():
        wired = [name for name in item.exits if (item.node.id, name) in connected]
        problems += [
            Problem(item.node.id, f"exit {name!r} is not connected")
            for name in item.exits
            if name not in wired and name not in item.component.may_end
        ]
        if len(wired) < item.component.min_connected:
            message = f"connect at least one of its exits ({', '.join(item.exits)})"
            problems.append(Problem(item.node.id, message))
    return problems


def _reach_problems(flow: Flow) -> list[Problem]:
    starts = _starts(flow)
    if not starts:
        return []
    reached = _reachable(flow, starts[0].id)
    return [
        Problem(node.id, "not reachable from Start")
        for node in flow.nodes
        if node.id not in reached and node.type != START
    ]


def _reachable(flow: Flow, start: str) -> set[str]:
    following: dict[str, list[str]] = {}
    for edge in flow.edges:
        following.setdefault(edge.source, []).append(edge.target)
    reached, queue = {start}, deque([start])
    while queue:
        for target in following.get(queue.popleft(), []):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    return reached


def _template_problems(item: _Checked, checked: Mapping[str, _Checked]) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in item.node.settings.items():
        if item.component.setting(name) is None:
            continue
        for text in templates.strings_in(value):
            whys = _text_problems(text, checked)
            problems += [Problem(item.node.id, f"settings.{name}: {why}") for why in whys]
    return problems


def _text_problems(text: str, checked: Mapping[str, _Checked]) -> list[str]:
    try:
        refs = templates.references(text)
    except templates.TemplateError as exc:
        return [str(exc)]
    return [why for ref in refs if (why := _reference_problem(ref, checked))]


def _reference_problem(ref: templates.Reference, checked: Mapping[str, _Checked]) -> str:
    source = checked.get(ref.node)
    if source is None:
        return f"{ref} names no node {ref.node!r}"
    if produces(source.component, source.settings, ref.path):
        return ""
    sets = ", ".join(source.component.variables(source.settings)) or "none"
    return f"{ref} is not a variable of {ref.node} (it sets: {sets})"
