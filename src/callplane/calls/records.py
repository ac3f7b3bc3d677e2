"""Write-behind for call records and the callback outbox: batched, never lost.

A record is written twice at most: when the call starts (``state="live"``, so a
crash leaves a trace that start-up turns into a final record) and when it ends;
an answered call is also written when it is answered, so that a crash bills it.
Snapshots are coalesced by ``call_uuid`` while they wait, so a call that ends
within one flush interval costs one row write.

The same batches carry the call inspector's traces and Debugger events (issue 16,
``put_trace``), and the callback outbox (``pending_callbacks``): the rows of
the callbacks a record owes (its hangup callback) go in the record's own
transaction, and every other callback's row is written before its first
attempt; deliveries (row deleted) and new schedules follow in later batches.
So the record writer is the only writer of records and callbacks: one
transaction per batch, whatever the rate of calls. A batch that fails (the
database is locked, or gone for a while) is retried with backoff, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
import time
from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from callplane.calls.causes import Cause
from callplane.store.models import Account, CallRecord, DebuggerEvent, PendingCallback, StoredTrace
from callplane.store.outbox import OutboxChanges
from callplane.store.traces import TraceBatch

log = logging.getLogger("callplane.records")

WriteBatch = Callable[[list[CallRecord], OutboxChanges, TraceBatch], Awaitable[None]]
ReadDue = Callable[[datetime, int], Awaitable[list[PendingCallback]]]


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


@dataclass(slots=True)
class _OutboxQueue:
    """Outbox row changes waiting for a batch, coalesced per callback."""

    saved: dict[str, PendingCallback] = field(default_factory=dict)
    rescheduled: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    delivered: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.saved or self.rescheduled or self.delivered)

    def save(self, cb: PendingCallback) -> None:
        self.saved[cb.callback_id] = cb

    def reschedule(self, callback_id: str, attempts: int, when: datetime) -> None:
        cb = self.saved.get(callback_id)
        if cb is not None:  # not written yet: write it with its new schedule
            self.saved[callback_id] = replace(cb, attempts=attempts, next_attempt=when)
        else:
            self.rescheduled[callback_id] = (attempts, when)

    def deliver(self, callback_id: str) -> None:
        self.saved.pop(callback_id, None)
        self.rescheduled.pop(callback_id, None)
        self.delivered.add(callback_id)

    def then(self, newer: _OutboxQueue) -> _OutboxQueue:
        """These changes followed by ``newer``'s (a failed batch put back before the
        changes that came while it was being written)."""
        for cb in newer.saved.values():
            self.save(cb)
        for callback_id, (attempts, when) in newer.rescheduled.items():
            self.reschedule(callback_id, attempts, when)
        for callback_id in newer.delivered:
            self.deliver(callback_id)
        return self

    def changes(self) -> OutboxChanges:
        return OutboxChanges(list(self.saved.values()), self.rescheduled, list(self.delivered))


class _Waiters:
    """Futures of callers waiting for a key (call uuid, callback id) to be written."""

    def __init__(self) -> None:
        self._futures: dict[str, list[asyncio.Future[None]]] = {}

    async def wait(self, key: str, timeout: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._futures.setdefault(key, []).append(future)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, timeout)

    def release(self, written: Iterable[str], pending: Container[str]) -> None:
        if not self._futures:
            return
        for key in written:
            if key in pending:  # a newer snapshot came meanwhile
                continue
            for future in self._futures.pop(key, ()):
                if not future.done():
                    future.set_result(None)


class RecordWriter:
    def __init__(
        self,
        write: WriteBatch,
        *,
        interval: float = 0.05,
        max_batch: int = 2000,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
    ):
        self._write = write
        self._interval = interval
        self._max_batch = max_batch
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._pending: dict[str, CallRecord] = {}
        self._writing: dict[str, CallRecord] = {}  # the batch being written now
        self._outbox = _OutboxQueue()
        self._outbox_writing = _OutboxQueue()
        self._traced = TraceBatch([], [])
        self._records_waiting = _Waiters()
        self._callbacks_waiting = _Waiters()
        self._taken = 0  # batches taken to be written, and the last one written:
        self._committed = 0  # all queued before batch N was taken is written with it
        self._settling: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._stop_asked = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # ``observe(seconds)`` after each batch is written (metrics)
        self.observe: Callable[[float], None] | None = None

    def put(self, record: CallRecord, callbacks: Iterable[PendingCallback] = ()) -> None:
        """Queue a snapshot of ``record``, and the rows of ``callbacks`` it owes (written
        in the same transaction as this snapshot, or an earlier one)."""
        self._pending[record.call_uuid] = copy.copy(record)
        for cb in callbacks:
            self._outbox.save(cb)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def put_trace(self, trace: StoredTrace | None, events: Iterable[DebuggerEvent] = ()) -> None:
        """Queue a call's trace (None: none kept) and its Debugger events."""
        assert isinstance(self._traced.traces, list) and isinstance(self._traced.events, list)
        if trace is not None:
            self._traced.traces.append(trace)
        self._traced.events.extend(events)

    async def written(self, call_uuid: str, timeout: float = 5.0) -> None:
        """Wait until the latest snapshot of ``call_uuid`` is in the store. The snapshot
        goes with the next regular batch (within one interval): waking the writer for
        each waiter (every call with a hangup callback) made batches of one record."""
        if call_uuid not in self._pending and call_uuid not in self._writing:
            return
        await self._records_waiting.wait(call_uuid, timeout)

    # -- the outbox's writes (see RecordBatchOutbox) -----------------------------

    async def save_callback(self, cb: PendingCallback, timeout: float = 5.0) -> None:
        """Queue ``cb``'s row and wait until it is written (or ``timeout``: the row
        stays queued, and is written once the store takes writes again)."""
        self._outbox.save(cb)
        self._wake.set()
        await self._callbacks_waiting.wait(cb.callback_id, timeout)

    def reschedule_callback(self, callback_id: str, attempts: int, when: datetime) -> None:
        self._outbox.reschedule(callback_id, attempts, when)

    def callback_delivered(self, callback_id: str) -> None:
        self._outbox.deliver(callback_id)

    async def outbox_written(self) -> None:
        """Wait until every outbox change queued so far is written."""
        target = self._taken + 1 if self._outbox else self._taken
        if self._committed >= target:
            return
        future = asyncio.get_running_loop().create_future()
        self._settling.append((target, future))
        self._wake.set()
        await future

    # -- running -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="record-writer")

    async def stop(self, timeout: float = 30.0) -> None:
        """Write what is pending and stop. A batch being written is finished, not
        cancelled: cancelling it would roll it back with its records already taken.
        A store that refuses writes is retried for ``timeout`` seconds."""
        self._stopping = True
        self._stop_asked.set()
        self._wake.set()
        if self._task:
            await self._task
        deadline = asyncio.get_running_loop().time() + timeout
        delay = self._retry_delay
        while True:
            try:
                await self.flush()
                return
            except Exception:
                if asyncio.get_running_loop().time() + delay > deadline:
                    log.error(
                        "stopping with %d call record(s) and %d callback change(s) unwritten",
                        len(self._pending),
                        len(self._outbox.saved) + len(self._outbox.rescheduled),
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)

    async def flush(self) -> None:
        while self._pending or self._outbox or self._traced:
            batch, self._pending = self._pending, {}
            changes, self._outbox = self._outbox, _OutboxQueue()
            traced, self._traced = self._traced, TraceBatch([], [])
            self._writing, self._outbox_writing = batch, changes
            self._taken += 1
            taken = self._taken
            started = time.perf_counter()
            try:
                await self._write(list(batch.values()), changes.changes(), traced)
            except Exception as exc:
                log.warning(
                    "writing %d call record(s) and %d callback change(s) failed, will retry: %s",
                    len(batch),
                    len(changes.saved) + len(changes.rescheduled) + len(changes.delivered),
                    exc,
                )
                for uuid, record in batch.items():
                    self._pending.setdefault(uuid, record)
                self._outbox = changes.then(self._outbox)
                self._traced = _joined(traced, self._traced)
                raise
            finally:
                self._writing, self._outbox_writing = {}, _OutboxQueue()
            if self.observe is not None:
                self.observe(time.perf_counter() - started)
            self._records_waiting.release(batch, self._pending)
            self._callbacks_waiting.release(changes.saved, self._outbox.saved)
            self._committed = taken
            self._settle()

    def _settle(self) -> None:
        waiting, self._settling = self._settling, []
        for target, future in waiting:
            if target > self._committed:
                self._settling.append((target, future))
            elif not future.done():
                future.set_result(None)

    async def _run(self) -> None:
        delay = self._retry_delay
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # logged in flush; the batch stays pending
                with contextlib.suppress(TimeoutError):  # stop() ends the pause
                    await asyncio.wait_for(self._stop_asked.wait(), delay)
                delay = min(delay * 2, self._max_retry_delay)
            else:
                delay = self._retry_delay


def _joined(older: TraceBatch, newer: TraceBatch) -> TraceBatch:
    return TraceBatch([*older.traces, *newer.traces], [*older.events, *newer.events])


class RecordBatchOutbox:
    """The webhooks layer's :class:`~callplane.webhooks.outbox.OutboxSink` in
    ``callplane serve``: rows are written by the record writer's batches; due
    callbacks are read from the table (``read_due``) once the changes queued so
    far (the worker's own deliveries and new schedules) are in it, so that a
    delivered callback is not read back as due."""

    def __init__(self, writer: RecordWriter, read_due: ReadDue) -> None:
        self._writer = writer
        self._read_due = read_due

    async def save(self, cb: PendingCallback) -> None:
        await self._writer.save_callback(cb)

    async def due(self, now: datetime, limit: int) -> list[PendingCallback]:
        await self._writer.outbox_written()
        return await self._read_due(now, limit)

    async def delete(self, callback_id: str) -> None:
        self._writer.callback_delivered(callback_id)

    async def reschedule(self, callback_id: str, attempts: int, next_attempt: datetime) -> None:
        self._writer.reschedule_callback(callback_id, attempts, next_attempt)
