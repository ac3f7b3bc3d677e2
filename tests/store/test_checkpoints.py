"""SQLite WAL checkpoints run on the checkpointer's thread, never inside a commit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from callplane.store import Store
from callplane.store.checkpoints import WalCheckpointer
from callplane.store.models import Account, CallRecord


@pytest.fixture
def checkpointer(store: Store, database_url: str) -> WalCheckpointer:
    if not database_url.startswith("sqlite"):
        pytest.skip("WAL checkpoints are SQLite's")
    assert store._checkpointer is not None
    return store._checkpointer


def _wal_frames(path: str) -> int:
    """Frames in the write-ahead log now (a PASSIVE checkpoint reports them)."""
    with sqlite3.connect(path) as conn:
        frames: int = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    conn.close()
    return frames


async def _write_pages(store: Store, account: Account, batches: int) -> None:
    for batch in range(batches):
        records = [
            CallRecord(f"c{batch}-{n}", account.auth_id, "4930111", "4930222", error="x" * 1000)
            for n in range(100)
        ]
        await store.write_records(records)


async def test_commits_leave_checkpoints_to_the_checkpointer(
    store: Store, account: Account, checkpointer: WalCheckpointer
) -> None:
    checkpointer.stop()  # nothing checkpoints now, unless a commit does
    path = checkpointer.path
    await _write_pages(store, account, 40)  # well past SQLite's 1,000-page autocheckpoint
    # A commit that checkpointed would have restarted the log: it would hold only the
    # pages written since. Every page written is still in it.
    assert _wal_frames(path) > 1000


async def test_the_checkpointer_copies_the_log_into_the_database(
    store: Store, account: Account, checkpointer: WalCheckpointer
) -> None:
    await _write_pages(store, account, 2)
    async with asyncio.timeout(30):
        while checkpointer.copied == 0:
            await asyncio.sleep(0.05)
    page = await store.list_calls(account.auth_id)
    assert page.total == 200
