"""``python -m callplane.store.migrations revision -m MESSAGE``: autogenerate a new revision.

The comparison runs against a scratch SQLite database migrated to the current
head, so the new revision holds exactly what ``store/tables.py`` added since.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from callplane.store.migrations import config, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m callplane.store.migrations")
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="autogenerate a revision from store/tables.py")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        with engine.begin() as conn:
            upgrade(conn)
            command.revision(config(conn), message=args.message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    main()
