"""SIP trunks: outbound gateways (number prefix rules, number and caller-id
rewrite, credentials for the gateway's challenges) and inbound trust (ACL of
source addresses, digest credentials).

Revision ID: 0005
Revises: 0004
Create Date: 2025-06-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trunks",
        sa.Column("trunk_id", sa.String(32), primary_key=True),
        sa.Column(
            "auth_id",
            sa.String(32),
            sa.ForeignKey("accounts.auth_id", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password", sa.String(128), nullable=False),
        sa.Column("prefixes", sa.JSON, nullable=False),
        sa.Column("strip_digits", sa.Integer, nullable=False),
        sa.Column("add_prefix", sa.String(32), nullable=False),
        sa.Column("caller_id", sa.String(64), nullable=False),
        sa.Column("inbound_acl", sa.JSON, nullable=False),
        sa.Column("inbound_username", sa.String(64), nullable=False),
        sa.Column("inbound_ha1", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_trunks_auth_id", "trunks", ["auth_id"])


def downgrade() -> None:
    op.drop_table("trunks")
