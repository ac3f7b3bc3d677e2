"""Flows (visual call flows): the editable draft and its immutable published versions.

Revision ID: 0004
Revises: 0003
Create Date: 2025-06-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("flow_id", sa.String(36), primary_key=True),
        sa.Column(
            "auth_id",
            sa.String(32),
            sa.ForeignKey("accounts.auth_id", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
        sa.Column("updated", UTCDateTime, nullable=True),
    )
    op.create_index("ix_flows_account_created", "flows", ["auth_id", "created", "flow_id"])
    op.create_table(
        "flow_versions",
        sa.Column(
            "flow_id",
            sa.String(36),
            sa.ForeignKey("flows.flow_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("published", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("flow_versions")
    op.drop_table("flows")
