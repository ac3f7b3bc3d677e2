"""The call inspector's rows: traces and Debugger events (issue 16).

They ride in the record writer's batches (:class:`TraceBatch`, written by
:meth:`Store.write_records` in the records' transaction), so keeping a trace costs
no transaction of its own; a periodic task deletes rows older than the retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from callplane.store import tables as t
from callplane.store.models import DebuggerEvent, StoredTrace
from callplane.store.sql import upsert

DEBUGGER_LEVELS = frozenset({"error", "warning"})


@dataclass(slots=True)
class TraceBatch:
    """Traces and Debugger events to write with a record batch."""

    traces: Sequence[StoredTrace] = ()
    events: Sequence[DebuggerEvent] = ()

    def __bool__(self) -> bool:
        return bool(self.traces or self.events)


class TraceRows:
    """Statements over ``call_traces`` and ``debugger_events``, built once."""

    def __init__(self, dialect: str) -> None:
        self._upsert = upsert(dialect, t.call_traces, "call_uuid")
        self._insert_events = sa.insert(t.debugger_events)

    async def write(self, conn: AsyncConnection, batch: TraceBatch) -> None:
        if batch.traces:
            await conn.execute(self._upsert, [_trace_row(trace) for trace in batch.traces])
        if batch.events:
            await conn.execute(self._insert_events, [_event_row(e) for e in batch.events])


def _trace_row(trace: StoredTrace) -> dict[str, Any]:
    return {
        "call_uuid": trace.call_uuid,
        "auth_id": trace.auth_id,
        "created": trace.created,
        "mode": trace.mode,
        "truncated": trace.truncated,
        "size": trace.size,
        "body": trace.body,
    }


def _event_row(event: DebuggerEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "auth_id": event.auth_id,
        "at": event.at,
        "level": event.level,
        "kind": event.kind[:32],
        "message": event.message,
        "call_uuid": event.call_uuid,
    }


def trace_of(row: Row[Any]) -> StoredTrace:
    return StoredTrace(
        call_uuid=row.call_uuid,
        auth_id=row.auth_id,
        created=row.created,
        mode=row.mode,
        truncated=bool(row.truncated),
        body=row.body,
    )


def event_of(row: Row[Any]) -> DebuggerEvent:
    return DebuggerEvent(
        event_id=row.event_id,
        auth_id=row.auth_id,
        at=row.at,
        level=row.level,
        kind=row.kind,
        message=row.message,
        call_uuid=row.call_uuid,
    )


def trace_query(owned: Any) -> sa.Select[Any]:
    """The trace of ``:call_uuid`` whose account matches ``owned``."""
    c = t.call_traces.c
    return sa.select(t.call_traces).where(owned, c.call_uuid == sa.bindparam("call_uuid"))


def events_query(auth_id: str, filters: dict[str, str]) -> sa.Select[Any]:
    """``auth_id``'s Debugger events, newest first, with equality ``filters``
    (``level``, ``kind``, ``call_uuid``)."""
    c = t.debugger_events.c
    stmt = sa.select(t.debugger_events).where(c.auth_id == auth_id)
    for name, value in filters.items():
        stmt = stmt.where(c[name] == value)
    return stmt.order_by(c.at.desc(), c.event_id.desc())


def expired(before: datetime) -> list[sa.Delete]:
    """Deletes of the traces and events older than ``before``."""
    return [
        sa.delete(t.call_traces).where(t.call_traces.c.created < before),
        sa.delete(t.debugger_events).where(t.debugger_events.c.at < before),
    ]
