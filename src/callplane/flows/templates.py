"""``{{Node.path}}`` templates in node settings: ``{{Start.call.from}}``,
``{{CallForward_1.dial_status}}``, ``{{HTTPRequest_1.response.body.id}}``.

A template is literal text with references; a reference names a node id and a
dotted path into the variables that node produced. ``parse`` raises
:class:`TemplateError` for a ``{{`` that does not hold a reference; ``render``
looks references up in a nested mapping (``{"Start": {"call": {"from": ...}}}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_REFERENCE = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_\-]+)+)\s*\}\}")
_OPEN = "{{"


class TemplateError(ValueError):
    """Text with a ``{{`` that is not a well-formed ``{{Node.path}}``."""


@dataclass(frozen=True, slots=True)
class Reference:
    node: str
    path: str  # dotted, without the node: "call.from"

    def __str__(self) -> str:
        return f"{{{{{self.node}.{self.path}}}}}"


Part = str | Reference


def parse(text: str) -> tuple[Part, ...]:
    """Literal strings and references, in order (empty literals left out)."""
    parts: list[Part] = []
    position = 0
    for match in _REFERENCE.finditer(text):
        _literal(parts, text[position : match.start()], position)
        parts.append(Reference(match.group(1), match.group(2)[1:]))
        position = match.end()
    _literal(parts, text[position:], position)
    return tuple(parts)


def _literal(parts: list[Part], literal: str, offset: int) -> None:
    at = literal.find(_OPEN)
    if at >= 0:
        raise TemplateError(
            f"'{{{{' at character {offset + at + 1} does not start a {{{{Node.path}}}} reference"
        )
    if literal:
        parts.append(literal)


def references(text: str) -> list[Reference]:
    return [part for part in parse(text) if isinstance(part, Reference)]


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value (mapping keys included): where templates may hide."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def lookup(variables: Mapping[str, Any], ref: Reference) -> Any:
    """The value ``ref`` names; KeyError when the path does not exist."""
    value: Any = variables[ref.node]
    for key in ref.path.split("."):
        if isinstance(value, Mapping):
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise KeyError(str(ref))
    return value


def render(text: str, variables: Mapping[str, Any], *, strict: bool = False) -> str:
    """``text`` with each reference replaced by its value: strings as they are,
    other JSON values as JSON, missing ones as "" (KeyError when ``strict``)."""
    out: list[str] = []
    for part in parse(text):
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            out.append(_as_text(lookup(variables, part)))
        except KeyError:
            if strict:
                raise
            out.append("")
    return "".join(out)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
