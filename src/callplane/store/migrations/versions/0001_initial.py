"""The schema as it was before migrations: accounts, applications, numbers,
block rules, call records and the callback outbox.

Revision ID: 0001
Revises:
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callplane.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _account_fk() -> sa.ForeignKey:
    return sa.ForeignKey("accounts.auth_id", ondelete="CASCADE", onupdate="CASCADE")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("auth_id", sa.String(32), primary_key=True),
        sa.Column("auth_token", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_auth_id", sa.String(32), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("inbound_cps", sa.Float, nullable=False),
        sa.Column("rate_per_minute", sa.String(32), nullable=False),
        sa.Column("billing_interval", sa.Integer, nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_accounts_parent_auth_id", "accounts", ["parent_auth_id"])
    _applications()
    _numbers()
    _block_rules()
    _call_records()
    _pending_callbacks()


def _applications() -> None:
    op.create_table(
        "applications",
        sa.Column("app_id", sa.String(32), primary_key=True),
        sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
        sa.Column("app_name", sa.String(200), nullable=False),
        sa.Column("answer_url", sa.Text, nullable=False),
        sa.Column("answer_method", sa.String(8), nullable=False),
        sa.Column("fallback_answer_url", sa.Text, nullable=False),
        sa.Column("fallback_method", sa.String(8), nullable=False),
        sa.Column("hangup_url", sa.Text, nullable=False),
        sa.Column("hangup_method", sa.String(8), nullable=False),
        sa.Column("message_url", sa.Text, nullable=False),
        sa.Column("message_method", sa.String(8), nullable=False),
        sa.Column("status_callback_url", sa.Text, nullable=False),
        sa.Column("status_callback_method", sa.String(8), nullable=False),
        sa.Column("dialect", sa.String(16), nullable=False),
        sa.Column("max_concurrent_calls", sa.Integer, nullable=False),
        sa.Column("default_number_app", sa.Boolean, nullable=False),
        sa.Column("default_endpoint_app", sa.Boolean, nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_applications_auth_id", "applications", ["auth_id"])


def _numbers() -> None:
    op.create_table(
        "numbers",
        sa.Column("number", sa.String(16), primary_key=True),
        sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
        sa.Column(
            "app_id",
            sa.String(32),
            sa.ForeignKey("applications.app_id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("carrier", sa.String(200), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("number_type", sa.String(32), nullable=False),
        sa.Column("max_concurrent_calls", sa.Integer, nullable=False),
        sa.Column("added_on", UTCDateTime, nullable=True),
    )
    op.create_index("ix_numbers_auth_id", "numbers", ["auth_id"])
    op.create_index("ix_numbers_app_id", "numbers", ["app_id"])


def _block_rules() -> None:
    op.create_table(
        "block_rules",
        sa.Column("rule_id", sa.String(40), primary_key=True),
        sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
        sa.Column("match", sa.String(16), nullable=False),
        sa.Column("pattern", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column(
            "number",
            sa.String(16),
            sa.ForeignKey("numbers.number", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "app_id",
            sa.String(32),
            sa.ForeignKey("applications.app_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_block_rules_auth_id", "block_rules", ["auth_id"])


def _call_records() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_uuid", sa.String(64), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("from_number", sa.String(128), nullable=False),
        sa.Column("to_number", sa.String(128), nullable=False),
        sa.Column("call_direction", sa.String(16), nullable=False),
        sa.Column("caller_name", sa.String(200), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=True),
        sa.Column("call_status", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("hangup_cause_name", sa.String(100), nullable=False),
        sa.Column("hangup_cause_code", sa.Integer, nullable=False),
        sa.Column("hangup_source", sa.String(32), nullable=False),
        sa.Column("sip_response_code", sa.Integer, nullable=False),
        sa.Column("initiation_time", UTCDateTime, nullable=True),
        sa.Column("answer_time", UTCDateTime, nullable=True),
        sa.Column("end_time", UTCDateTime, nullable=True),
        sa.Column("call_duration", sa.Integer, nullable=False),
        sa.Column("bill_duration", sa.Integer, nullable=False),
        sa.Column("billed_duration", sa.Integer, nullable=False),
        sa.Column("total_amount", sa.String(32), nullable=False),
        sa.Column("total_rate", sa.String(32), nullable=False),
        sa.Column("parent_call_uuid", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
    )
    op.create_index("ix_call_records_state", "call_records", ["state"])
    op.create_index("ix_call_records_account_time", "call_records", ["auth_id", "initiation_time"])


def _pending_callbacks() -> None:
    op.create_table(
        "pending_callbacks",
        sa.Column("callback_id", sa.String(64), primary_key=True),
        sa.Column("auth_id", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", UTCDateTime, nullable=False),
        sa.Column("created", UTCDateTime, nullable=True),
    )
    op.create_index("ix_pending_callbacks_next_attempt", "pending_callbacks", ["next_attempt"])


def downgrade() -> None:
    for table in (
        "pending_callbacks",
        "call_records",
        "block_rules",
        "numbers",
        "applications",
        "accounts",
    ):
        op.drop_table(table)
