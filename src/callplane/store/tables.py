"""The SQL schema, in SQLAlchemy Core; it mirrors ``store/models.py``.

Only portable types and constraints: the same tables run on SQLite and
PostgreSQL. Times are stored as naive UTC and come back timezone-aware
(:class:`UTCDateTime`), whatever the backend does with time zones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out; naive values count as UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC)


def _account_fk() -> sa.ForeignKey:
    return sa.ForeignKey("accounts.auth_id", ondelete="CASCADE", onupdate="CASCADE")


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("auth_id", sa.String(32), primary_key=True),
    sa.Column("auth_token", sa.String(128), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, default=""),
    sa.Column("parent_auth_id", sa.String(32), nullable=True, index=True),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("inbound_cps", sa.Float, nullable=False, default=10.0),
    sa.Column("rate_per_minute", sa.String(32), nullable=False, default="0.00"),
    sa.Column("billing_interval", sa.Integer, nullable=False, default=60),
    sa.Column("created", UTCDateTime, nullable=True),
    sa.Column("city", sa.String(200), nullable=False, server_default=""),
    sa.Column("address", sa.String(400), nullable=False, server_default=""),
    sa.Column("private_networks", sa.Boolean, nullable=False, server_default=sa.false()),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("app_id", sa.String(32), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
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

numbers = sa.Table(
    "numbers",
    metadata,
    sa.Column("number", sa.String(16), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
    sa.Column(
        "app_id",
        sa.String(32),
        sa.ForeignKey("applications.app_id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("alias", sa.String(200), nullable=False),
    sa.Column("carrier", sa.String(200), nullable=False),
    sa.Column("region", sa.String(200), nullable=False),
    sa.Column("number_type", sa.String(32), nullable=False),
    sa.Column("max_concurrent_calls", sa.Integer, nullable=False),
    sa.Column("added_on", UTCDateTime, nullable=True),
    # The flow whose newest published version answers the number (no foreign key:
    # see migration 0006; the store unassigns a deleted flow's numbers).
    sa.Column("flow_id", sa.String(36), nullable=True, index=True),
)

block_rules = sa.Table(
    "block_rules",
    metadata,
    sa.Column("rule_id", sa.String(40), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
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

# No foreign keys on records and callbacks: they outlive what they refer to,
# and the record writer is on the hot path.
call_records = sa.Table(
    "call_records",
    metadata,
    sa.Column("call_uuid", sa.String(64), primary_key=True),
    sa.Column("auth_id", sa.String(32), nullable=False),
    sa.Column("from_number", sa.String(128), nullable=False),
    sa.Column("to_number", sa.String(128), nullable=False),
    sa.Column("call_direction", sa.String(16), nullable=False),
    sa.Column("caller_name", sa.String(200), nullable=False),
    sa.Column("app_id", sa.String(32), nullable=True),
    sa.Column("call_status", sa.String(16), nullable=False),
    sa.Column("state", sa.String(8), nullable=False, index=True),
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
    # The cluster node whose process wrote the record last ("" on a single process).
    sa.Column("node", sa.String(64), nullable=False, server_default=""),
    # Serves "one account's records, newest first" (the list's ORDER BY) as an index scan.
    sa.Index("ix_call_records_account_recent", "auth_id", "initiation_time", "call_uuid"),
)

pending_callbacks = sa.Table(
    "pending_callbacks",
    metadata,
    sa.Column("callback_id", sa.String(64), primary_key=True),
    sa.Column("auth_id", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt", UTCDateTime, nullable=False, index=True),
    sa.Column("created", UTCDateTime, nullable=True),
)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("endpoint_id", sa.String(32), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
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

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created", UTCDateTime, nullable=True),
)

# Like call records, recordings outlive what they refer to: no foreign keys.
recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("recording_id", sa.String(64), primary_key=True),
    sa.Column("auth_id", sa.String(32), nullable=False),
    sa.Column("call_uuid", sa.String(64), nullable=False, index=True),
    sa.Column("recording_format", sa.String(8), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("recording_duration_ms", sa.BigInteger, nullable=False),
    sa.Column("recording_start_ms", sa.BigInteger, nullable=False),
    sa.Column("recording_end_ms", sa.BigInteger, nullable=False),
    sa.Column("recording_type", sa.String(16), nullable=False),
    sa.Column("add_time", UTCDateTime, nullable=True),
    # Serves "one account's recordings, newest first" as an index scan.
    sa.Index("ix_recordings_account_recent", "auth_id", "add_time", "recording_id"),
)

# Trunks: outbound gateways and inbound peers (see models.Trunk); lists are JSON arrays.
trunks = sa.Table(
    "trunks",
    metadata,
    sa.Column("trunk_id", sa.String(32), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False, index=True),
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

# Flows: the draft document is edited in place; each publish copies it into
# flow_versions, which are never changed afterwards (numbers will point at one).
flows = sa.Table(
    "flows",
    metadata,
    sa.Column("flow_id", sa.String(36), primary_key=True),
    sa.Column("auth_id", sa.String(32), _account_fk(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created", UTCDateTime, nullable=True),
    sa.Column("updated", UTCDateTime, nullable=True),
    sa.Index("ix_flows_account_created", "auth_id", "created", "flow_id"),
)

flow_versions = sa.Table(
    "flow_versions",
    metadata,
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

# One row per flow run (an incoming call or an API request), its log kept whole.
# Like call records, runs outlive their flow: no foreign keys.
flow_runs = sa.Table(
    "flow_runs",
    metadata,
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
    sa.Index("ix_flow_runs_flow_recent", "auth_id", "flow_id", "started", "run_id"),
)

# The call inspector (issue 16): one trace per call (its JSON document, rendered at
# the end of the call) and the Debugger's errors and warnings. Both are deleted
# after --trace-retention-days; like records, they outlive what they refer to.
call_traces = sa.Table(
    "call_traces",
    metadata,
    sa.Column("call_uuid", sa.String(64), primary_key=True),
    sa.Column("auth_id", sa.String(32), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False, index=True),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("truncated", sa.Boolean, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

debugger_events = sa.Table(
    "debugger_events",
    metadata,
    sa.Column("event_id", sa.String(32), primary_key=True),
    sa.Column("auth_id", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("call_uuid", sa.String(64), nullable=True),
    sa.Index("ix_debugger_events_account_recent", "auth_id", "at", "event_id"),
)
