"""Configuration writes made by one node reach the routing tables of the others.

Every node keeps numbers, applications, rules, trunks, endpoints and credentials in
memory (``Store.reload_routes``). On PostgreSQL, a node that changes configuration
sends ``NOTIFY callplane_config`` after its write commits, and every node listens on
its own connection and reloads; a listening connection that drops is opened again
(and the node reloads then, for what it may have missed). SQLite is one process:
nothing to do there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("callplane.store")

CHANNEL = "callplane_config"
RETRY_SECONDS = 1.0


async def announce(engine: AsyncEngine) -> None:
    """Tell the other nodes that configuration changed (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"NOTIFY {CHANNEL}"))


class ConfigFollower:
    """Calls ``reload`` whenever any node announces a configuration change."""

    def __init__(self, engine: AsyncEngine, reload: Callable[[], Awaitable[None]]) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._reload = reload
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: Any = None  # the listening asyncpg connection, while open

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._reload_forever())]

    async def _listen(self) -> None:
        import asyncpg  # the postgres extra: only PostgreSQL stores get here

        while True:
            try:
                self._conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen for configuration changes: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await self._conn.add_listener(CHANNEL, lambda *_: self._wanted.set())
                self._wanted.set()  # changes made while we were not listening
                await lost.wait()
            finally:
                await self._close_connection()
            log.warning("configuration change listener lost its connection; reconnecting")

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)

    async def _reload_forever(self) -> None:
        """One reload per burst of notifications (they coalesce while one runs)."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await self._reload()
            except Exception:  # a database that is away: the next notification retries
                log.exception("reloading configuration failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_connection()  # cancelled before its try: still open
