"""The cluster node that writes a call's record: start-up close-out of a crashed
node finishes only its own live rows, and a survivor finishes a lost node's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("node", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("node")
