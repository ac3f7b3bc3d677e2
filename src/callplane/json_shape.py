"""Bounds on the shape of parsed JSON: how deep arrays and objects nest, how many there are.

Shared by the REST API (request bodies) and VoXML (answer documents): code that
walks JSON recursively, or encodes it again, must not meet unbounded nesting.
"""

from __future__ import annotations

from typing import Any


def shape_problem(data: Any, max_depth: int, max_containers: int | None = None) -> str | None:
    """What is wrong with the nesting of ``data`` (the outermost array/object is depth 1)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    count = 0
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return f"arrays and objects nested more than {max_depth} deep"
        count += 1
        if max_containers is not None and count > max_containers:
            return f"more than {max_containers} arrays and objects"
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


def may_nest_deeper(raw: bytes | str, max_depth: int) -> bool:
    """False when ``raw`` has too few brackets to nest past ``max_depth`` (skip the walk)."""
    if isinstance(raw, bytes):
        return raw.count(b"{") + raw.count(b"[") > max_depth
    return raw.count("{") + raw.count("[") > max_depth
