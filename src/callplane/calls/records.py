"""Write-behind for call records: every call's CDR reaches the store, batched.

A record is written twice at most: when the call starts (``state="live"``, so a
crash leaves a trace that start-up turns into a final record) and when it ends.
Both snapshots are coalesced by ``call_uuid`` while they wait, so a call that
ends within one flush interval costs one row write.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from callplane.calls.causes import Cause
from callplane.store.models import Account, CallRecord

log = logging.getLogger("callplane.records")

WriteBatch = Callable[[list[CallRecord]], Awaitable[None]]


def end_record(
    record: CallRecord, cause: Cause, source: str, now: datetime, sip_code: int = 0
) -> None:
    """Mark ``record`` ended by ``cause`` (said by ``source``) at ``now``."""
    record.end_time = now
    record.state = "ended"
    record.call_status = cause.call_status
    record.hangup_cause_name = cause.name
    record.hangup_cause_code = cause.code
    record.hangup_source = source
    if sip_code:
        record.sip_response_code = sip_code


def bill(record: CallRecord, account: Account) -> None:
    """Durations and cost of an answered call: billed per started ``billing_interval``."""
    assert record.answer_time and record.end_time
    seconds = (record.end_time - record.answer_time).total_seconds()
    record.call_duration = record.bill_duration = math.ceil(seconds)
    interval = max(account.billing_interval, 1)
    record.billed_duration = max(1, math.ceil(seconds / interval)) * interval
    rate = Decimal(account.rate_per_minute)
    record.total_amount = f"{rate * record.billed_duration / 60:.5f}"


class RecordWriter:
    def __init__(self, write: WriteBatch, *, interval: float = 0.05, max_batch: int = 2000):
        self._write = write
        self._interval = interval
        self._max_batch = max_batch
        self._pending: dict[str, CallRecord] = {}
        self._writing: dict[str, CallRecord] = {}  # the batch being written now
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def put(self, record: CallRecord) -> None:
        self._pending[record.call_uuid] = copy.copy(record)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    async def written(self, call_uuid: str, timeout: float = 5.0) -> None:
        """Wait until the latest snapshot of ``call_uuid`` is in the store."""
        if call_uuid not in self._pending and call_uuid not in self._writing:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(call_uuid, []).append(future)
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, timeout)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="record-writer")

    async def stop(self) -> None:
        """Write what is pending and stop. A batch being written is finished, not
        cancelled: cancelling it would roll it back with its records already taken."""
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task
        await self.flush()

    async def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            self._writing = batch
            try:
                await self._write(list(batch.values()))
            except Exception:
                log.exception("writing %d call records failed; will retry", len(batch))
                for uuid, record in batch.items():
                    self._pending.setdefault(uuid, record)
                raise
            finally:
                self._writing = {}
            self._release(batch)

    def _release(self, batch: dict[str, CallRecord]) -> None:
        for uuid in batch:
            if uuid in self._pending:  # a newer snapshot came meanwhile
                continue
            for future in self._waiting.pop(uuid, ()):
                if not future.done():
                    future.set_result(None)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # logged in flush; the batch stays pending
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)  # stop() wakes it
