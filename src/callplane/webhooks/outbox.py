"""Where callbacks that could not be delivered wait to be retried.

:class:`OutboxSink` is what the webhook client and the outbox worker need; the
store provides a SQL-backed one, :class:`MemoryOutbox` serves tests and runs
without a database (callbacks then survive the process only while it runs).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from callplane.store.models import PendingCallback


class OutboxSink(Protocol):
    async def save(self, cb: PendingCallback) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[PendingCallback]: ...

    async def delete(self, callback_id: str) -> None: ...

    async def reschedule(self, callback_id: str, attempts: int, next_attempt: datetime) -> None: ...


class MemoryOutbox:
    """An in-process :class:`OutboxSink`."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingCallback] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def all(self) -> list[PendingCallback]:
        return list(self._pending.values())

    async def save(self, cb: PendingCallback) -> None:
        self._pending[cb.callback_id] = cb

    async def due(self, now: datetime, limit: int) -> list[PendingCallback]:
        ready = [cb for cb in self._pending.values() if cb.next_attempt <= now]
        ready.sort(key=lambda cb: cb.next_attempt)
        return ready[:limit]

    async def delete(self, callback_id: str) -> None:
        self._pending.pop(callback_id, None)

    async def reschedule(self, callback_id: str, attempts: int, next_attempt: datetime) -> None:
        cb = self._pending.get(callback_id)
        if cb is not None:
            self._pending[callback_id] = replace(cb, attempts=attempts, next_attempt=next_attempt)


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base, 2*base, ... cap."""
    return min(base * 2.0 ** max(attempts - 1, 0), cap)


def utcnow() -> datetime:
    return datetime.now(UTC)
