"""Databases for store, API and CLI tests: SQLite by default, PostgreSQL on request.

With ``CALLPLANE_TEST_DATABASE_URL=postgresql+asyncpg://user:pw@host/db`` each test
module gets its own new database on that server (dropped at the end), emptied
before each test; otherwise each test gets a new SQLite file, a copy of one migrated
once per process (migrating takes longer than most tests).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from callplane.store.migrations import upgrade
from callplane.store.tables import metadata

ENV = "CALLPLANE_TEST_DATABASE_URL"


def server_url() -> URL | None:
    raw = os.environ.get(ENV, "")
    return make_url(raw) if raw else None


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: URL, statement: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def module_database(module: str) -> Iterator[URL | None]:
    """A new PostgreSQL database for one test module, or None when testing on SQLite."""
    server = server_url()
    if server is None:
        yield None
        return
    name = f"cp_{module.rsplit('.', 1)[-1][:30]}_{uuid.uuid4().hex[:8]}".lower()
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name)
    finally:
        asyncio.run(_drop(server, name))


async def _drop(server: URL, name: str) -> None:
    """Drop a test database. FORCE ends our own connections, but not a connection of
    another role (an autovacuum worker on a busy machine): wait for it to finish."""
    for _ in range(60):
        try:
            await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            await asyncio.sleep(0.5)
    await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _truncate(url: URL) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        existing = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
        names = [t.name for t in metadata.sorted_tables if t.name in existing]
        if names:
            await conn.execute(f"TRUNCATE {', '.join(names)} CASCADE")
    finally:
        await conn.close()


_schema_dir = tempfile.TemporaryDirectory(prefix="callplane-test-schema-")


@functools.cache
def migrated_sqlite() -> Path:
    """A SQLite database at the newest revision, made once per process (Store.open finds
    a copy of it current and does not migrate again)."""
    path = Path(_schema_dir.name) / "migrated.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn)
    engine.dispose()
    return path


def fresh_url(pg: URL | None, tmp_path: Path, *, migrated: bool = True) -> str:
    """An empty database for one test: the module's PostgreSQL database, emptied, or SQLite
    (a copy of the migrated schema, or with ``migrated=False`` no file at all)."""
    if pg is None:
        path = tmp_path / "callplane.db"
        if migrated:
            shutil.copyfile(migrated_sqlite(), path)
        return f"sqlite+aiosqlite:///{path}"
    asyncio.run(_truncate(pg))
    return pg.render_as_string(hide_password=False)
