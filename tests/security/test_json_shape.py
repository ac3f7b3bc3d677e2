"""JSON nesting read from the text agrees with a walk of the decoded value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callplane.json_shape import shape_problem

TRICKY = st.text(alphabet='[]{}"\\a', max_size=6)  # brackets, quotes, escapes inside strings
VALUES = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=60,
)


def walk(value: Any) -> tuple[int, int]:
    """(depth, number of arrays and objects) of a decoded value."""
    if not isinstance(value, dict | list):
        return 0, 0
    children = [walk(v) for v in (value.values() if isinstance(value, dict) else value)]
    return 1 + max((d for d, _ in children), default=0), 1 + sum(n for _, n in children)


@given(VALUES, st.integers(1, 6), st.integers(1, 20))
def test_agrees_with_a_walk_of_the_decoded_value(value: Any, depth: int, count: int) -> None:
    text = json.dumps(value)
    real_depth, real_count = walk(value)
    problem = shape_problem(text, depth, count)
    if real_depth > depth:
        assert problem == f"arrays and objects nested more than {depth} deep"
    elif real_count > count:
        assert problem == f"more than {count} arrays and objects"
    else:
        assert problem is None


def test_brackets_in_strings_do_not_count() -> None:
    text = json.dumps({"speak": "[" * 100 + "{" * 100, "list": [["]]]"]]})
    assert shape_problem(text, 3) is None
    assert shape_problem(text, 2) == "arrays and objects nested more than 2 deep"
