"""Small SQL helpers that keep the store portable between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def upsert(dialect: str, table: sa.Table, key: str) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` setting every other column."""
    try:
        insert = _INSERTS[dialect]
    except KeyError:
        raise NotImplementedError(f"no upsert for database dialect {dialect!r}") from None
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
    return stmt.on_conflict_do_update(index_elements=[table.c[key]], set_=updates)


def install_sqlite_pragmas(engine: AsyncEngine | sa.Engine, *, read_only: bool = False) -> None:
    """WAL, synchronous=NORMAL and enforced foreign keys on every new connection;
    ``read_only`` connections also refuse to write (``PRAGMA query_only``)."""
    pragmas = _SQLITE_PRAGMAS + (("PRAGMA query_only=ON",) if read_only else ())

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    sa.event.listen(sync, "connect", on_connect)


def count_of(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """``SELECT count(*)`` over the rows ``stmt`` selects (ignoring its order)."""
    return sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())


_BUCKETS = {
    "postgresql": {"day": "YYYY-MM-DD", "month": "YYYY-MM"},
    "sqlite": {"day": "%Y-%m-%d", "month": "%Y-%m"},
}


def date_bucket(dialect: str, column: sa.ColumnElement[Any], period: str) -> sa.ColumnElement[str]:
    """``column`` (a naive-UTC timestamp) as ``YYYY-MM-DD`` (day) or ``YYYY-MM`` (month)."""
    fmt = _BUCKETS[dialect][period]
    if dialect == "postgresql":
        return sa.func.to_char(column, fmt, type_=sa.String)
    return sa.func.strftime(fmt, column, type_=sa.String)
