"""The record writer never loses a batch it has taken, and ``written`` means written;
callbacks' outbox rows ride in its batches, with the records that owe them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callplane.calls.records import RecordBatchOutbox, RecordWriter
from callplane.store import Store
from callplane.store.models import Account, CallRecord, PendingCallback
from callplane.store.outbox import OutboxChanges
from callplane.store.traces import TraceBatch


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield opened
    await opened.close()


class HeldWrites:
    """``Store.write_records`` that waits for ``release`` once a batch has been taken."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.taken = asyncio.Event()
        self.release = asyncio.Event()

    async def write(
        self, records: list[CallRecord], outbox: OutboxChanges, traced: object = None
    ) -> None:
        self.taken.set()
        await self.release.wait()
        await self.store.write_records(records, outbox)


def _record(account: Account, call_uuid: str) -> CallRecord:
    return CallRecord(call_uuid, account.auth_id, "4930111", "4930222", state="ended")


async def held_batch(store: Store) -> tuple[Account, HeldWrites, RecordWriter]:
    """A running writer whose batch with the record "c1" is being written (held)."""
    account, _ = await store.ensure_main_account()
    writes = HeldWrites(store)
    writer = RecordWriter(writes.write, interval=0.01)
    writer.start()
    writer.put(_record(account, "c1"))
    await writes.taken.wait()
    return account, writes, writer


async def test_stop_finishes_the_batch_being_written(store: Store) -> None:
    account, writes, writer = await held_batch(store)
    stopping = asyncio.create_task(writer.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the batch instead of cancelling it
    writes.release.set()
    await stopping
    assert await store.get_call(account.auth_id, "c1") is not None


async def test_written_waits_for_the_batch_being_written(store: Store) -> None:
    account, writes, writer = await held_batch(store)
    waiting = asyncio.create_task(writer.written("c1"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    writes.release.set()
    await waiting
    assert await store.get_call(account.auth_id, "c1") is not None
    await writer.stop()


NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def _callback(callback_id: str, auth_id: str, due: datetime = NOW) -> PendingCallback:
    return PendingCallback(
        callback_id, auth_id, "http://127.0.0.1/h", "POST", b"a=1", "", {}, 0, due, NOW
    )


class FailingWrites:
    """``Store.write_records`` that fails (database locked) until ``failures`` run out."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.calls = 0

    async def write(
        self, records: list[CallRecord], outbox: OutboxChanges, traced: object = None
    ) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError("database is locked")
        await self.store.write_records(records, outbox)


async def test_a_records_callbacks_are_written_with_it(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    writer = RecordWriter(store.write_records, interval=0.01)
    writer.start()
    writer.put(_record(account, "c1"), [_callback("cb1", account.auth_id)])
    await writer.written("c1")
    assert await store.get_call(account.auth_id, "c1") is not None
    assert [cb.callback_id for cb in await store.outbox.due(LATER, 10)] == ["cb1"]
    await writer.stop()


async def test_failed_batches_are_retried_with_their_outbox_changes(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    writes = FailingWrites(store, failures=3)
    writer = RecordWriter(writes.write, interval=0.01, retry_delay=0.01)
    writer.start()
    writer.put(_record(account, "c1"), [_callback("kept", account.auth_id)])
    writer.put(_record(account, "c2"), [_callback("sent", account.auth_id)])
    writer.reschedule_callback("kept", 2, LATER)
    writer.callback_delivered("sent")
    await writer.written("c2")
    assert writes.calls == 4
    assert await store.get_call(account.auth_id, "c1") is not None
    [kept] = await store.outbox.due(LATER, 10)
    assert (kept.callback_id, kept.attempts, kept.next_attempt) == ("kept", 2, LATER)
    await writer.stop()


async def test_due_callbacks_are_read_after_the_changes_queued_before(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    writer = RecordWriter(store.write_records, interval=60.0)  # only woken, never by time
    writer.start()
    outbox = RecordBatchOutbox(writer, store.outbox.due)
    await outbox.save(_callback("cb1", account.auth_id))
    assert [cb.callback_id for cb in await outbox.due(LATER, 10)] == ["cb1"]
    await outbox.delete("cb1")  # delivered by the worker: queued, not yet written
    assert await outbox.due(LATER, 10) == []
    await writer.stop()


async def test_waiting_for_records_does_not_split_batches(store: Store) -> None:
    """Calls ending one after another, each waiting for its record before its hangup
    callback, share one batch (one write per interval, not one per call)."""
    account, _ = await store.ensure_main_account()
    batches: list[int] = []

    async def counted(
        records: list[CallRecord], outbox: OutboxChanges, traced: TraceBatch | None = None
    ) -> None:
        batches.append(len(records))
        await store.write_records(records, outbox, traced)

    writer = RecordWriter(counted, interval=1.0)
    writer.start()
    waiting = []
    for n in range(10):
        writer.put(_record(account, f"c{n}"))
        waiting.append(asyncio.create_task(writer.written(f"c{n}")))
        for _ in range(5):  # the next call ends a few loop iterations later
            await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    assert batches == [10]
    await writer.stop()
