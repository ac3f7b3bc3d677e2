"""Flow runs (one row per run, with its log) and the flow a number runs.

``numbers.flow_id`` has no foreign key: SQLite cannot add one to an existing
table without rebuilding it, which would cascade into the block rules of every
number. The store unassigns a flow's numbers itself when the flow is deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2025-06-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("numbers", sa.Column("flow_id", sa.String(36), nullable=True))
    op.create_index("ix_numbers_flow_id", "numbers", ["flow_id"])
    op.create_table(
        "flow_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("flow_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("call_uuid", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started", UTCDateTime, nullable=True),
        sa.Column("ended", UTCDateTime, nullable=True),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("log", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_flow_runs_flow_recent", "flow_runs", ["auth_id", "flow_id", "started", "run_id"]
    )


def downgrade() -> None:
    op.drop_table("flow_runs")
    op.drop_index("ix_numbers_flow_id", "numbers")
    op.drop_column("numbers", "flow_id")
