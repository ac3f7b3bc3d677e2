"""Durable retry queue for callback requests (``PendingCallback``).

Every callback has a row from before its first attempt until it is delivered
(or given up on). :class:`OutboxChanges` are the row changes that ride in a call
record batch (:meth:`Store.write_records`), so that a batch of records and the
callbacks they owe are committed together, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callplane.store import rows
from callplane.store.models import PendingCallback
from callplane.store.sql import upsert
from callplane.store.tables import pending_callbacks as t


@dataclass(slots=True)
class OutboxChanges:
    """Outbox rows to write: new or replaced rows, new schedules, deliveries (deleted)."""

    saved: Sequence[PendingCallback] = ()
    rescheduled: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    delivered: Sequence[str] = ()

    def __bool__(self) -> bool:
        return bool(self.saved or self.rescheduled or self.delivered)


_RESCHEDULE = (
    sa.update(t)
    .where(t.c.callback_id == sa.bindparam("id"))
    .values(attempts=sa.bindparam("attempts"), next_attempt=sa.bindparam("next"))
)
_DELETE = sa.delete(t).where(t.c.callback_id == sa.bindparam("id"))


class SqlOutbox:
    """The webhooks layer's outbox, kept in the ``pending_callbacks`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._upsert = upsert(engine.dialect.name, t, "callback_id")

    async def apply(self, conn: AsyncConnection, changes: OutboxChanges) -> None:
        """Write ``changes`` in the caller's transaction: rows, then schedules, then deletes."""
        if changes.saved:
            await conn.execute(self._upsert, [_row(cb) for cb in changes.saved])
        if changes.rescheduled:
            params = [
                {"id": key, "attempts": attempts, "next": when}
                for key, (attempts, when) in changes.rescheduled.items()
            ]
            await conn.execute(_RESCHEDULE, params)
        if changes.delivered:
            await conn.execute(_DELETE, [{"id": key} for key in changes.delivered])

    async def save(self, cb: PendingCallback) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert, [_row(cb)])

    async def due(self, now: datetime, limit: int) -> list[PendingCallback]:
        """Callbacks whose time has come, the longest-waiting first."""
        stmt = (
            sa.select(t)
            .where(t.c.next_attempt <= now)
            .order_by(t.c.next_attempt, t.c.callback_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            result = await conn.execute(stmt)
            return [rows.pending_callback(row) for row in result]

    async def delete(self, callback_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(_DELETE, [{"id": callback_id}])

    async def reschedule(self, callback_id: str, attempts: int, next_attempt: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                _RESCHEDULE, [{"id": callback_id, "attempts": attempts, "next": next_attempt}]
            )

    async def depth(self) -> int:
        """How many callbacks wait in the outbox (metrics)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one())

    async def release_interrupted(self, now: datetime) -> int:
        """Make callbacks whose first attempt never finished (``attempts == 0``: a
        previous process stopped while sending them) due at ``now``; return how many.
        Run at start-up, before this process sends callbacks of its own."""
        stmt = (
            sa.update(t).where(t.c.attempts == 0, t.c.next_attempt > now).values(next_attempt=now)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)


def _row(cb: PendingCallback) -> dict[str, Any]:
    row = rows.to_row(cb)
    row["created"] = cb.created or datetime.now(UTC)
    return row
