"""Reads in one go: a whole read (its statements and row conversion) is one sync
function run on a sync connection.

SQLite: most API reads (a record by id, a page of 20) cost SQLite tens of
microseconds, far less than a trip to a thread and the GIL hand-offs it brings
(through aiosqlite a ``GET /Call/`` page cost 0.5 ms of loop time before any row
was read). So a read runs first on the event loop's own connection, with a
progress handler that interrupts it once it has held the loop for
``LOOP_BUDGET``. In ``callplane serve`` that loop also carries the calls' SIP and
media, so an interrupted read (a first count over many rows, a filter that scans
the table) starts again on the read thread, which has a connection of its own.

Other databases (PostgreSQL): the async engine's own connection, through
``run_sync``; asyncpg never blocks the loop, so there is nothing to bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from callplane.store.sql import install_sqlite_pragmas

T = TypeVar("T")
Read = Callable[[Connection], T]
LOOP_BUDGET = 0.001  # seconds a read may hold the event loop before it moves to the thread
PROGRESS_STEPS = 1000  # SQLite VM instructions between budget checks (about 15 us)


class Reader:
    """Runs reads on ``engine``'s own connections (``run_sync``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, read: Read[T]) -> T:
        async with self._engine.connect() as conn:
            return await conn.run_sync(read)

    async def close(self) -> None:
        """Nothing of its own to close: the connections are the engine's."""


class SqliteReader(Reader):
    """Reads on the loop within ``budget`` seconds, else on one read thread."""

    def __init__(self, engine: AsyncEngine, budget: float = LOOP_BUDGET) -> None:
        super().__init__(engine)
        self.budget = budget
        self.moved = 0  # reads that went over budget and ran again on the thread
        # Read-only connections of their own; the thread's is made and used on the
        # thread, and both are closed by close() on the loop.
        self._sync = sa.create_engine(
            engine.url.set(drivername="sqlite"),
            poolclass=sa.pool.NullPool,
            connect_args={"check_same_thread": False},
        )
        install_sqlite_pragmas(self._sync, read_only=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="callplane-read")
        self._on_loop: Connection | None = None
        self._on_thread: Connection | None = None
        self._deadline = 0.0
        self._interrupted = False

    async def run(self, read: Read[T]) -> T:
        conn = self._loop_connection()
        self._deadline = time.perf_counter() + self.budget
        self._interrupted = False
        try:
            return _once(conn, read)
        except sa.exc.OperationalError:
            if not self._interrupted:
                raise
        finally:
            self._deadline = float("inf")
        self.moved += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._on_read_thread, read)

    def _loop_connection(self) -> Connection:
        if self._on_loop is None:
            self._on_loop = self._sync.connect()
            raw = self._on_loop.connection.dbapi_connection
            raw.set_progress_handler(self._over_budget, PROGRESS_STEPS)  # type: ignore[union-attr]
        return self._on_loop

    def _over_budget(self) -> bool:
        """SQLite's progress handler: True interrupts the statement running on the loop."""
        if time.perf_counter() > self._deadline:
            self._interrupted = True
        return self._interrupted

    def _on_read_thread(self, read: Read[T]) -> T:
        if self._on_thread is None:
            self._on_thread = self._sync.connect()
        return _once(self._on_thread, read)

    async def close(self) -> None:
        self._thread.shutdown(wait=True)
        for conn in (self._on_loop, self._on_thread):
            if conn is not None:
                conn.close()
        self._sync.dispose()


def _once(conn: Connection, read: Read[T]) -> T:
    try:
        return read(conn)
    finally:
        conn.rollback()  # no read transaction outlives the read: the next sees new writes


def reader_for(engine: AsyncEngine) -> Reader:
    """A loop-first reader for a SQLite file, else the engine's own connections.

    An in-memory SQLite database exists only inside one connection, so it is read
    through the engine like any other database.
    """
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return SqliteReader(engine)
    return Reader(engine)


def first(stmt: sa.Executable, params: dict[str, Any] | None = None) -> Read[Any]:
    """A read of ``stmt``'s first row (or None)."""
    return lambda conn: conn.execute(stmt, params).first()


def every(stmt: sa.Executable, params: dict[str, Any] | None = None) -> Read[list[Any]]:
    """A read of all of ``stmt``'s rows."""
    return lambda conn: list(conn.execute(stmt, params))
