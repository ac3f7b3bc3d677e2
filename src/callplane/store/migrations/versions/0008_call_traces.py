"""The call inspector: per-call traces and the Debugger's errors and warnings.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_traces",
        sa.Column("call_uuid", sa.String(64), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_call_traces_created", "call_traces", ["created"])
    op.create_table(
        "debugger_events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("call_uuid", sa.String(64), nullable=True),
    )
    op.create_index("ix_debugger_events_at", "debugger_events", ["at"])
    op.create_index(
        "ix_debugger_events_account_recent", "debugger_events", ["auth_id", "at", "event_id"]
    )


def downgrade() -> None:
    op.drop_table("debugger_events")
    op.drop_table("call_traces")
