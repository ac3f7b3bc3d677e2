"""The Alembic revisions build exactly the schema of ``store/tables.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from callplane.store import Store
from callplane.store.migrations import config, upgrade
from callplane.store.tables import metadata
from tests.store.databases import fresh_url


def _diff(conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


HEAD = ScriptDirectory.from_config(config()).get_current_head()


@pytest.fixture
def database_url(pg_database: URL | None, tmp_path: Path) -> str:
    """No schema yet (the other store tests get a copy of a migrated one)."""
    return fresh_url(pg_database, tmp_path, migrated=False)


async def test_migrated_schema_equals_metadata(database_url: str) -> None:
    store = await Store.open(database_url)
    await store.close()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_revision) == HEAD
    finally:
        await engine.dispose()


def test_database_made_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        upgrade(conn, "0001")
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(
            sa.text("INSERT INTO accounts VALUES ('MA1', 't', 'n', NULL, 1, 10, '0', 60, NULL)")
        )
    with engine.begin() as conn:
        upgrade(conn)
        assert _revision(conn) == HEAD
        assert _diff(conn) == []
        row = conn.execute(sa.text("SELECT auth_id, city FROM accounts")).one()
    assert tuple(row) == ("MA1", "")
    engine.dispose()


def test_downgrade_to_initial_and_back(tmp_path: Path) -> None:
    from alembic import command

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        upgrade(conn)
        command.downgrade(config(conn), "0001")
        assert "endpoints" not in sa.inspect(conn).get_table_names()
        upgrade(conn)
        assert _diff(conn) == []
    engine.dispose()


def test_downgrade_to_0002_drops_recordings_only(tmp_path: Path) -> None:
    from alembic import command

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        upgrade(conn)
        command.downgrade(config(conn), "0002")
        tables = sa.inspect(conn).get_table_names()
        assert "recordings" not in tables and "endpoints" in tables
        upgrade(conn)
        assert _diff(conn) == []
    engine.dispose()
