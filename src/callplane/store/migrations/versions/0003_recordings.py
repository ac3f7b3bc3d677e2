"""Recordings made by <Record>: one row per file, listed by the Recording API.

Revision ID: 0003
Revises: 0002
Create Date: 2025-06-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("call_uuid", sa.String(64), nullable=False),
        sa.Column("recording_format", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("recording_duration_ms", sa.BigInteger, nullable=False),
        sa.Column("recording_start_ms", sa.BigInteger, nullable=False),
        sa.Column("recording_end_ms", sa.BigInteger, nullable=False),
        sa.Column("recording_type", sa.String(16), nullable=False),
        sa.Column("add_time", UTCDateTime, nullable=True),
    )
    op.create_index("ix_recordings_call_uuid", "recordings", ["call_uuid"])
    op.create_index(
        "ix_recordings_account_recent", "recordings", ["auth_id", "add_time", "recording_id"]
    )


def downgrade() -> None:
    op.drop_table("recordings")
