"""Dataclass <-> row conversions; table columns carry the dataclass field names."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callplane.errors import ValidationError
from callplane.store import tables as t
from callplane.store.models import (
    Account,
    ApiKey,
    Application,
    BlockMatch,
    BlockRule,
    CallRecord,
    Endpoint,
    Number,
    PendingCallback,
)

T = TypeVar("T")

_CHECKED: dict[type, sa.Table] = {
    Account: t.accounts,
    Application: t.applications,
    Number: t.numbers,
    BlockRule: t.block_rules,
    Endpoint: t.endpoints,
    ApiKey: t.api_keys,
}

_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))
# Selected in the dataclass's field order, so a row builds a record positionally
# (a third of the cost of going through a dict, which list pages pay 20 times).
RECORD_COLUMNS = tuple(t.call_records.c[name] for name in _RECORD_FIELDS)


def to_row(obj: Any) -> dict[str, Any]:
    """Column values of a model dataclass (shallow: no deep copy of lists).

    Configuration rows are checked against their columns' lengths, which
    PostgreSQL enforces and SQLite does not: too long is a ValidationError on both.
    """
    row = {f.name: getattr(obj, f.name) for f in fields(obj)}
    table = _CHECKED.get(type(obj))
    if table is not None:
        _check_lengths(table, row)
    return row


def _check_lengths(table: sa.Table, row: dict[str, Any]) -> None:
    for name, value in row.items():
        limit = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise ValidationError(name, f"at most {limit} characters")


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


def select_records() -> sa.Select[Any]:
    """``SELECT`` of call records whose rows ``call_record`` converts."""
    return sa.select(*RECORD_COLUMNS)


def call_record(row: Row[Any]) -> CallRecord:
    """A record from a row of ``select_records()``."""
    record = CallRecord(*row)  # type: ignore[call-arg]  # the row has every field, in order
    record.events = list(record.events or [])
    return record


def pending_callback(row: Row[Any]) -> PendingCallback:
    values = row._asdict()
    values["headers"] = dict(values["headers"] or {})
    values["body"] = bytes(values["body"])
    return PendingCallback(**values)


def endpoint(row: Row[Any]) -> Endpoint:
    return from_row(Endpoint, row)


def api_key(row: Row[Any]) -> ApiKey:
    return from_row(ApiKey, row)
