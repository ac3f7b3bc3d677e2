"""Plain records shared by the store, the API and the call layer.

These are what the store returns and accepts; the SQL tables in
``store/tables.py`` mirror them. Field names follow Plivo's API where Plivo has
the concept, so the API layer can serialise them with little translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Account:
    auth_id: str
    auth_token: str
    name: str
    parent_auth_id: str | None = None  # None for the main account
    enabled: bool = True
    inbound_cps: float = 10.0  # inbound calls per second accepted; excess refused 486
    rate_per_minute: str = "0.00"  # decimal string, billed per started interval
    billing_interval: int = 60  # seconds
    created: datetime | None = None
    city: str = ""  # Plivo's profile fields
    address: str = ""
    # A sub-account's URLs may reach loopback and private networks (webhooks/ssrf.py);
    # set by the operator. The main account always may.
    private_networks: bool = False


@dataclass(frozen=True, slots=True)
class Application:
    app_id: str
    auth_id: str
    app_name: str
    answer_url: str
    answer_method: str = "POST"
    fallback_answer_url: str = ""
    fallback_method: str = "POST"
    hangup_url: str = ""
    hangup_method: str = "POST"
    message_url: str = ""
    message_method: str = "POST"
    status_callback_url: str = ""  # JSON events (call-rejected, ...)
    status_callback_method: str = "POST"
    dialect: str = ""  # "" = auto-detect; else "plivo" | "twiml" | "voxml"
    max_concurrent_calls: int = 0  # 0 = unlimited
    default_number_app: bool = False
    default_endpoint_app: bool = False
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Number:
    number: str  # E.164 digits without "+"
    auth_id: str
    app_id: str | None = None
    alias: str = ""
    carrier: str = ""
    region: str = ""
    number_type: str = "local"
    max_concurrent_calls: int = 0  # 0 = unlimited
    added_on: datetime | None = None
    flow_id: str | None = None  # a flow answers the number instead of app_id's application


class BlockMatch(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    ANONYMOUS = "anonymous"  # withheld / anonymous callers; pattern unused


@dataclass(frozen=True, slots=True)
class BlockRule:
    rule_id: str
    auth_id: str
    match: BlockMatch
    pattern: str  # digits (no "+"); "" for ANONYMOUS
    reason: str = "rejected"  # one of the reject reasons of design.md §3
    number: str | None = None  # scope: this number only ...
    app_id: str | None = None  # ... or every number of this application
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """Everything the call router needs to take an inbound call, read from memory."""

    number: Number
    account: Account
    application: Application | None
    block_rules: tuple[BlockRule, ...] = ()
    flow: FlowVersion | None = None  # the number's flow, its newest published version


@dataclass(slots=True)
class CallRecord:
    """One call detail record (CDR); exactly one per call."""

    call_uuid: str
    auth_id: str
    from_number: str
    to_number: str
    call_direction: str = "inbound"
    caller_name: str = ""
    app_id: str | None = None
    call_status: str = "ringing"  # design.md §4 CallStatus
    state: str = "live"  # "live" while the call runs, "ended" once final
    hangup_cause_name: str = ""
    hangup_cause_code: int = 0
    hangup_source: str = ""
    sip_response_code: int = 0
    initiation_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    call_duration: int = 0
    bill_duration: int = 0
    billed_duration: int = 0
    total_amount: str = "0.00000"
    total_rate: str = "0.00000"
    parent_call_uuid: str | None = None
    error: str = ""  # what went wrong, for the customer (call log)
    events: list[dict[str, str]] = field(
        default_factory=list
    )  # call log: {"time","level","message"}


@dataclass(frozen=True, slots=True)
class PendingCallback:
    """A callback request that failed and waits to be retried later."""

    callback_id: str
    auth_id: str
    url: str
    method: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    attempts: int
    next_attempt: datetime
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A SIP endpoint (Plivo's Endpoint): registers with digest auth, dialled with <User>.

    The password is never stored: ``ha1`` is ``md5(username:realm:password)``
    (RFC 2617 section 3.2.2.2), all the registrar needs to check a digest response.
    """

    endpoint_id: str
    auth_id: str
    username: str
    alias: str = ""
    app_id: str | None = None
    ha1: str = ""
    realm: str = "callplane"
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A named credential that authenticates like the auth token (Basic auth_id:secret).

    Only the SHA-256 of the secret is kept; the secret is shown once, at creation.
    """

    key_id: str
    auth_id: str
    name: str
    secret_sha256: str
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsagePeriod:
    """Calls of one day ("2025-03-01") or month ("2025-03"), summed from call records."""

    period: str
    calls: int = 0
    answered_calls: int = 0
    rejected_calls: int = 0  # refused before answer (cause codes 3000-3099), never billed
    billed_seconds: int = 0
    cost: str = "0.00000"


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording made by ``<Record>``; the file lives under the data directory."""

    recording_id: str
    auth_id: str
    call_uuid: str
    recording_format: str  # "wav" | "mp3"
    path: str
    recording_duration_ms: int
    recording_start_ms: int
    recording_end_ms: int
    recording_type: str = "call"
    add_time: datetime | None = None
    # Not stored with the recording: read from the call's record (empty without one).
    from_number: str = ""
    to_number: str = ""


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """A flow's editable draft; ``document`` is the JSON of ``callplane.flows.model``."""

    flow_id: str
    auth_id: str
    name: str
    document: dict[str, Any]
    created: datetime | None = None
    updated: datetime | None = None
    published_version: int | None = None  # the newest published version (not stored here)


@dataclass(frozen=True, slots=True)
class Trunk:
    """A SIP trunk: the gateway ``<Number>`` dials leave through, and a trusted inbound peer.

    Outbound, the longest matching number prefix picks the trunk (no prefixes: the
    account's default trunk), then ``priority`` (lower first). ``password`` is kept
    readable: answering the gateway's 401/407 needs it with the gateway's realm.
    Inbound, a source address in ``inbound_acl`` identifies the trunk; otherwise
    ``inbound_username`` with ``inbound_ha1`` (``md5(username:callplane:password)``,
    as endpoints) lets the trunk authenticate with digest. See docs/trunks.md.
    """

    trunk_id: str
    auth_id: str
    name: str
    host: str
    port: int = 5060
    transport: str = "udp"  # "udp" | "tcp"
    username: str = ""  # outbound digest credentials ("" = the gateway does not challenge)
    password: str = ""
    prefixes: tuple[str, ...] = ()  # dialled-number prefixes (digits) this trunk serves
    strip_digits: int = 0  # leading digits removed from the number ...
    add_prefix: str = ""  # ... before this is put in front
    caller_id: str = ""  # fixed caller id; "" keeps the Dial's
    inbound_acl: tuple[str, ...] = ()  # IPs / CIDRs whose INVITEs come from this trunk
    inbound_username: str = ""
    inbound_ha1: str = ""
    priority: int = 0
    enabled: bool = True
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """A published, immutable copy of a flow's document."""

    flow_id: str
    version: int  # 1, 2, ... per flow
    document: dict[str, Any]
    published: datetime | None = None


@dataclass(slots=True)
class FlowRun:
    """One run of a published flow version and its log (``callplane.flows.runlog``)."""

    run_id: str
    auth_id: str
    flow_id: str
    version: int
    trigger: str  # "incoming_call" | "api_request"
    call_uuid: str | None = None  # the call the run drives (an incoming or initiated call)
    status: str = "running"  # "running" | "completed" | "failed"
    started: datetime | None = None
    ended: datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)  # {"NodeId": {...}} at the end
    log: list[dict[str, Any]] = field(default_factory=list)  # {"time", "node", "event", ...}


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """A call's inspector trace (issue 16): the rendered JSON document of the call."""

    call_uuid: str
    auth_id: str
    created: datetime
    mode: str  # "all" or "failed": the mode that kept it
    truncated: bool
    body: str  # the trace JSON (docs/api.md, "Call inspector")

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True, slots=True)
class DebuggerEvent:
    """An error or warning of a call, for the Debugger list."""

    event_id: str
    auth_id: str
    at: datetime
    level: str  # "error" or "warning"
    kind: str  # invalid_document, webhook_failed, webhook_timeout...
    message: str
    call_uuid: str | None = None
