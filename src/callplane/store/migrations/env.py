"""Alembic environment: migrations run on the connection the caller passes in."""

from __future__ import annotations

from alembic import context

from callplane.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("callplane migrations run through callplane.store.migrations.upgrade()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
