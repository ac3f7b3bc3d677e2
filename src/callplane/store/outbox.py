"""Durable retry queue for callback requests (``PendingCallback``)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callplane.store import rows
from callplane.store.models import PendingCallback
from callplane.store.sql import upsert
from callplane.store.tables import pending_callbacks as t


class SqlOutbox:
    """The webhooks layer's outbox, kept in the ``pending_callbacks`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._upsert = upsert(engine.dialect.name, t, "callback_id")

    async def save(self, cb: PendingCallback) -> None:
        row = rows.to_row(cb)
        row["created"] = cb.created or datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert, [row])

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
            await conn.execute(sa.delete(t).where(t.c.callback_id == callback_id))

    async def reschedule(self, callback_id: str, attempts: int, next_attempt: datetime) -> None:
        stmt = (
            sa.update(t)
            .where(t.c.callback_id == callback_id)
            .values(attempts=attempts, next_attempt=next_attempt)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
