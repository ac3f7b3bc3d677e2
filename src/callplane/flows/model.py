"""A flow document, versioned JSON, parsed into frozen dataclasses::

    {"schema": 1, "name": "reject calls",
     "nodes": [{"id": "Start", "type": "start", "name": "Start",
                "settings": {}, "position": {"x": 0, "y": 0}}, ...],
     "edges": [{"from": "Start", "exit": "incoming_call", "to": "Hangup_1"}]}

Parsing checks the *shape* only (types, unique ids, known keys) and raises
:class:`FlowError` naming the node and field. Whether the flow makes sense
(component types, settings, exits, reachability) is ``validate.py``'s job, so
a designer can save a draft that does not validate yet.

``Flow.parse(doc).to_dict() == doc`` for a document that spells out every key;
``Flow.loads(text).dumps() == text`` for one written by ``dumps``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from callplane.errors import ValidationError

SCHEMA_VERSION = 1
NODE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_NAME = 200
_FLOW_KEYS = frozenset({"schema", "name", "nodes", "edges"})
_NODE_KEYS = frozenset({"id", "type", "name", "settings", "position"})
_EDGE_KEYS = frozenset({"from", "exit", "to"})


class FlowError(ValidationError):
    """A document that is not a flow. ``path`` locates the culprit in the document
    (``nodes[2].settings``), ``node`` is the id of its node when known.

    A :class:`~callplane.errors.ValidationError` of the request field ``document``,
    so the API answers it with 400 like any other bad field.
    """

    def __init__(self, message: str, path: str = "", node: str | None = None) -> None:
        super().__init__("document", message)
        self.detail = message
        self.path = path
        self.node = node

    def __str__(self) -> str:
        where = [f"node {self.node!r}"] if self.node else []
        where += [self.path] if self.path else []
        return ": ".join([*where, self.detail])


@dataclass(frozen=True, slots=True)
class Position:
    """Where the designer draws the node; the runtime ignores it."""

    x: int | float = 0
    y: int | float = 0


@dataclass(frozen=True, slots=True)
class Node:
    id: str  # what edges and templates ({{id.path}}) name
    type: str  # a key of components.COMPONENTS
    name: str  # the label shown in the designer
    settings: Mapping[str, Any]  # read-only; checked against the component's spec
    position: Position = Position()


@dataclass(frozen=True, slots=True)
class Edge:
    """From exit ``exit`` of node ``source`` to node ``target`` (``from``/``to`` in JSON)."""

    source: str
    exit: str
    target: str


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    schema: int = SCHEMA_VERSION

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    @classmethod
    def parse(cls, data: Any) -> Flow:
        """A flow from decoded JSON; FlowError names what is wrong and where."""
        doc = _object(data, "")
        _known_keys(doc, _FLOW_KEYS, "")
        _check_schema(doc.get("schema"))
        nodes = tuple(_node(n, i) for i, n in enumerate(_array(doc.get("nodes", []), "nodes")))
        _unique_ids(nodes)
        edges = tuple(_edge(e, i) for i, e in enumerate(_array(doc.get("edges", []), "edges")))
        return cls(_name(doc.get("name"), "name"), nodes, edges, SCHEMA_VERSION)

    @classmethod
    def loads(cls, text: str | bytes) -> Flow:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise FlowError(f"not valid JSON ({exc})") from None
        return cls.parse(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "nodes": [_node_dict(n) for n in self.nodes],
            "edges": [{"from": e.source, "exit": e.exit, "to": e.target} for e in self.edges],
        }

    def dumps(self) -> str:
        """The canonical file form: two-space indent, keys in schema order, final newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def empty_document(name: str) -> dict[str, Any]:
    return Flow(_name(name, "name")).to_dict()


def _node_dict(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "type": node.type,
        "name": node.name,
        "settings": copy.deepcopy(dict(node.settings)),
        "position": {"x": node.position.x, "y": node.position.y},
    }


def _node(data: Any, index: int) -> Node:
    path = f"nodes[{index}]"
    raw = _object(data, path)
    node_id = _node_id(raw.get("id"), f"{path}.id")
    _known_keys(raw, _NODE_KEYS, path, node_id)
    node_type = raw.get("type")
    if not isinstance(node_type, str) or not node_type:
        raise FlowError("type: must be a non-empty string", path, node_id)
    name = _name(raw.get("name", node_id), f"{path}.name", node_id)
    settings = _object(raw.get("settings", {}), f"{path}.settings", node_id)
    position = _position(raw.get("position", {}), f"{path}.position", node_id)
    return Node(node_id, node_type, name, MappingProxyType(copy.deepcopy(settings)), position)


def _edge(data: Any, index: int) -> Edge:
    path = f"edges[{index}]"
    raw = _object(data, path)
    _known_keys(raw, _EDGE_KEYS, path)
    values = []
    for key in ("from", "exit", "to"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise FlowError(f"{key}: must be a non-empty string", path)
        values.append(value)
    return Edge(*values)


def _position(data: Any, path: str, node_id: str) -> Position:
    raw = _object(data, path, node_id)
    _known_keys(raw, frozenset({"x", "y"}), path, node_id)
    for key in ("x", "y"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FlowError(f"{key}: must be a number", path, node_id)
    return Position(raw.get("x", 0), raw.get("y", 0))


def _check_schema(schema: Any) -> None:
    if schema is None:
        raise FlowError("required", "schema")
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        raise FlowError(f"unsupported version {schema!r}; this Callplane reads 1", "schema")


def _unique_ids(nodes: tuple[Node, ...]) -> None:
    seen: set[str] = set()
    for index, node in enumerate(nodes):
        if node.id in seen:
            raise FlowError("id: used by an earlier node", f"nodes[{index}]", node.id)
        seen.add(node.id)


def _node_id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not NODE_ID.fullmatch(value):
        raise FlowError(
            "must be a letter then up to 63 letters, digits or underscores (e.g. CallForward_1)",
            path,
        )
    return value


def _name(value: Any, path: str, node_id: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FlowError("must be a non-empty string", path, node_id)
    if len(value) > MAX_NAME:
        raise FlowError(f"at most {MAX_NAME} characters", path, node_id)
    return value


def _object(value: Any, path: str, node_id: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FlowError("must be a JSON object", path or "document", node_id)
    return value


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise FlowError("must be a JSON array", path)
    return value


def _known_keys(
    raw: Mapping[str, Any], allowed: frozenset[str], path: str, node_id: str | None = None
) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        message = f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        raise FlowError(message, path or "document", node_id)
