"""SQLite reads run on the event loop within a budget, and on the read thread past it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from callplane.store import Store
from callplane.store.reads import Reader, SqliteReader, reader_for

# Counting to two million in SQL takes SQLite far longer than the 1 ms budget.
LONG_COUNT = sa.text(
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000) "
    "SELECT count(*) FROM n"
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield opened
    await opened.close()


def _reader(store: Store) -> SqliteReader:
    reader = store._reads
    assert isinstance(reader, SqliteReader)
    return reader


def _where(conn: Connection) -> str:
    conn.execute(sa.text("SELECT 1")).all()
    return threading.current_thread().name


async def test_a_quick_read_runs_on_the_loop(store: Store) -> None:
    reader = _reader(store)
    assert await reader.run(_where) == threading.current_thread().name
    assert reader.moved == 0


async def test_a_long_read_moves_to_the_read_thread_and_the_loop_keeps_running(
    store: Store,
) -> None:
    reader = _reader(store)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def long_read(conn: Connection) -> tuple[int, str, int]:
        count = conn.execute(LONG_COUNT).scalar_one()
        return count, threading.current_thread().name, ticks

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    count, thread, ticks_when_done = await reader.run(long_read)
    ticker.cancel()
    assert count == 2_000_000
    assert thread.startswith("callplane-read")
    assert reader.moved == 1
    # The loop ran other tasks while SQLite counted on the thread.
    assert ticks_when_done > 1
    # Interrupting the read left the loop's connection usable.
    assert await reader.run(_where) == threading.current_thread().name


async def test_read_connections_refuse_writes(store: Store) -> None:
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        await _reader(store).run(lambda conn: conn.execute(sa.text("DELETE FROM accounts")))
    assert _reader(store).moved == 0


async def test_a_read_sees_what_the_store_just_wrote(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    assert await store.get_account(account.auth_id) == account
    renamed = await store.update_account(account.auth_id, name="renamed")
    assert renamed.name == "renamed"
    assert await store.get_account(account.auth_id) == renamed


async def test_an_in_memory_database_is_read_through_its_engine() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        reader = reader_for(engine)
        assert type(reader) is Reader
        assert await reader.run(lambda conn: conn.execute(sa.text("SELECT 7")).scalar_one()) == 7
    finally:
        await engine.dispose()
