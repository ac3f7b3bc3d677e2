"""The record writer never loses a batch it has taken, and ``written`` means written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callplane.calls.records import RecordWriter
from callplane.store import Store
from callplane.store.models import Account, CallRecord
from callplane.store.outbox import OutboxChanges


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

    async def write(self, records: list[CallRecord], outbox: OutboxChanges) -> None:
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
