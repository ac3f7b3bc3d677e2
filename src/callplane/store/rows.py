"""Dataclass <-> row conversions; table columns carry the dataclass field names."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy.engine import Row

from callplane.store.models import (
    Account,
    Application,
    BlockMatch,
    BlockRule,
    CallRecord,
    Number,
    PendingCallback,
)

T = TypeVar("T")

_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))


def to_row(obj: Any) -> dict[str, Any]:
    """Column values of a model dataclass (shallow: no deep copy of lists)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def record_row(record: CallRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def from_row(cls: type[T], row: Row[Any]) -> T:
    return cls(**row._asdict())


def account(row: Row[Any]) -> Account:
    return from_row(Account, row)


def application(row: Row[Any]) -> Application:
    return from_row(Application, row)


def number(row: Row[Any]) -> Number:
    return from_row(Number, row)


def block_rule(row: Row[Any]) -> BlockRule:
    values = row._asdict()
    values["match"] = BlockMatch(values["match"])
    return BlockRule(**values)


def call_record(row: Row[Any]) -> CallRecord:
    values = row._asdict()
    values["events"] = list(values["events"] or [])
    return CallRecord(**values)


def pending_callback(row: Row[Any]) -> PendingCallback:
    values = row._asdict()
    values["headers"] = dict(values["headers"] or {})
    values["body"] = bytes(values["body"])
    return PendingCallback(**values)
