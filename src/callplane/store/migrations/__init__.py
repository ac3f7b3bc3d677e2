"""Alembic migrations of the store's schema, run by :meth:`Store.open`.

``upgrade(connection)`` brings a database to the newest revision. A database
made before migrations existed (tables created by ``create_all``, no
``alembic_version``) is stamped with the initial revision first, which is the
schema of that time.

New revision, after changing ``store/tables.py`` (autogenerate against a
scratch SQLite database at the current head)::

    python -m callplane.store.migrations revision -m "what changed"
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent
INITIAL = "0001"


def config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config pointing at this package, optionally bound to ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Migrate the database of ``connection`` (a sync connection) to ``revision``."""
    cfg = config(connection)
    tables = set(sa.inspect(connection).get_table_names())
    if "accounts" in tables and "alembic_version" not in tables:
        command.stamp(cfg, INITIAL)
    command.upgrade(cfg, revision)
