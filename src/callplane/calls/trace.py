"""A call's inspector trace (issue 16): what went over the wire, kept raw and bounded.

Capturing costs appends of what is already at hand (the bytes of a SIP message,
a webhook's response body, a clock reading); nothing is parsed or formatted until
the API shows the trace (``calls/trace_render.py``). Every event
charges its size to ``max_bytes``; past it events are dropped and ``truncated``
is set, so a long or chatty call cannot hold more than that in memory.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from callplane.net.rtp_session import RtpSessionStats
from callplane.sip.events import Address

DEFAULT_MAX_BYTES = 512 * 1024
MAX_BODY = 16 * 1024  # a webhook response body is kept up to this
EVENT_OVERHEAD = 64  # bytes charged per event on top of its text


@dataclass(frozen=True, slots=True)
class Party:
    """A ladder column: who messages go to and come from."""

    id: str
    label: str
    address: str = ""
    call_uuid: str | None = None


# (wall-clock seconds, "in"/"out", transport, source, destination, the message, the
# party on the far side): a plain tuple, the cheapest thing to make per message.
SipCapture = tuple[float, str, str, Address, Address, bytes, str]


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    latency: float
    status: int | None
    error: str | None
    content_type: str
    body: bytes
    body_truncated: bool


@dataclass(slots=True)
class WebhookCapture:
    at: float
    kind: str
    method: str
    url: str
    form: Mapping[str, list[str]]
    body: bytes  # the request body (JSON callbacks)
    content_type: str
    signed: bool
    trace: CallTrace
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "queued"  # until done() says otherwise: under way, as the outbox has it
    finished: bool = False

    def attempt(
        self,
        started: float,
        latency: float,
        status: int | None,
        error: str | None,
        content_type: str,
        body: bytes,
    ) -> None:
        kept = body[:MAX_BODY]
        if self.trace.charge(len(kept)):
            self.attempts.append(
                Attempt(started, latency, status, error, content_type, kept, len(body) > MAX_BODY)
            )

    def done(self, outcome: str) -> None:
        self.outcome = outcome
        self.finished = True


@dataclass(slots=True)
class VerbSpan:
    name: str
    start: float
    detail: str = ""
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """An error or warning for the Debugger (and a reason to keep a ``failed`` trace)."""

    at: float
    level: str  # "error" or "warning"
    kind: str
    message: str


class CallTrace:
    """What one call (its A leg, B legs and webhooks) did, captured raw."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.truncated = False
        self.parties: dict[str, Party] = {}
        self.call_ids: dict[bytes, str] = {}  # SIP Call-ID -> the party on the far side
        self.sip: list[SipCapture] = []
        self.webhooks: list[WebhookCapture] = []
        self.verbs: list[VerbSpan] = []
        self.quality: dict[str, RtpSessionStats] = {}
        self.problems: list[Problem] = []
        self.sip_failed = False  # a leg's INVITE got a final error response

    def charge(self, size: int) -> bool:
        """Count ``size`` bytes against the limit; False (and ``truncated``) past it."""
        size += EVENT_OVERHEAD
        if self.size + size > self.max_bytes:
            self.truncated = True
            return False
        self.size += size
        return True

    # -- parties --------------------------------------------------------------------------

    def add_party(self, party: Party, call_id: bytes | None = None) -> None:
        self.parties.setdefault(party.id, party)
        if call_id is not None:
            self.call_ids[call_id] = party.id

    def next_leg_id(self) -> str:
        """``b1``, ``b2``...: the id of the next B leg's column."""
        return f"b{sum(1 for pid in self.parties if pid.startswith('b')) + 1}"

    # -- events ---------------------------------------------------------------------------

    def sip_message(
        self,
        direction: str,
        transport: str,
        src: Address,
        dst: Address,
        data: bytes,
        call_id: bytes,
    ) -> None:
        if not self.charge(len(data)):
            return
        party = self.call_ids.get(call_id, "caller")
        self.sip.append((time.time(), direction, transport, src, dst, data, party))
        if direction == "in" and _is_invite_error(data):
            self.sip_failed = True

    def request(
        self,
        kind: str,
        method: str,
        url: str,
        form: Mapping[str, list[str]],
        body: bytes,
        content_type: str,
        signed: bool,
    ) -> WebhookCapture | None:
        """A webhook request starting (the webhooks layer's ``WebhookObserver``)."""
        if not self.charge(len(url) + len(body) + 32 * len(form)):
            return None
        capture = WebhookCapture(
            time.time(), kind, method, url, form, body, content_type, signed, self
        )
        self.webhooks.append(capture)
        return capture

    def verb_started(self, name: str, detail: str = "") -> VerbSpan | None:
        if not self.charge(len(detail)):
            return None
        span = VerbSpan(name, time.time(), detail)
        self.verbs.append(span)
        return span

    @staticmethod
    def verb_ended(span: VerbSpan | None) -> None:
        if span is not None:
            span.end = time.time()

    def problem(self, level: str, kind: str, message: str) -> None:
        """Problems are few and drive the Debugger: they are kept past the size limit."""
        self.problems.append(Problem(time.time(), level, kind, message))

    def media_ended(self, party: str, stats: RtpSessionStats) -> None:
        self.quality[party] = stats


def _is_invite_error(data: bytes) -> bool:
    """A final error response (3xx-6xx) to an INVITE, except the challenges 401/407
    that a client answers with credentials and the 487 a CANCEL asked for."""
    if not data.startswith(b"SIP/2.0 ") or data[8:9] not in b"3456":
        return False
    if data[8:11] in (b"401", b"407", b"487"):
        return False
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return b" invite\r\n" in head and (b"\ncseq:" in head or b"\ncseq :" in head)
