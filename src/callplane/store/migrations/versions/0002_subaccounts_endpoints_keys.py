"""Account profile (city, address), SIP endpoints, API keys, and a call-record
index that serves "newest first" lists as an index scan.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _account_fk() -> sa.ForeignKey:
    return sa.ForeignKey("accounts.auth_id", ondelete="CASCADE", onupdate="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("city", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("address", sa.String(400), nullable=False, server_default=""))
    op.create_index(
        "ix_call_records_account_recent",
        "call_records",
        ["auth_id", "initiation_time", "call_uuid"],
    )
    op.drop_index("ix_call_records_account_time", table_name="call_records")
    op.create_table(
        "endpoints",
        sa.Column("endpoint_id", sa.String(32), primary_key=True),
        sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column(
            "app_id",
            sa.String(32),
            sa.ForeignKey("applications.app_id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("ha1", sa.String(32), nullable=False),
        sa.Column("realm", sa.String(100), nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_endpoints_auth_id", "endpoints", ["auth_id"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_api_keys_auth_id", "api_keys", ["auth_id"])


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("endpoints")
    op.create_index("ix_call_records_account_time", "call_records", ["auth_id", "initiation_time"])
    op.drop_index("ix_call_records_account_recent", table_name="call_records")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("address")
        batch.drop_column("city")
