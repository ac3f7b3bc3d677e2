"""Which calls are traced, and what happens to a trace when its call ends (issue 16).

``--trace``: ``all`` keeps every call's trace, ``failed`` (the default) keeps
only those of failed calls, ``off`` captures nothing (the SIP transport then
has no tap at all). A call *failed* when something went wrong: a webhook request
failed or timed out, a document was invalid, a leg's INVITE got a final error
response (other than a challenge or the 487 a CANCEL asked for), or its hangup
cause gives it the status ``failed`` or ``timeout`` (:func:`ended_badly`). A call
refused on purpose (by a block rule or cap the operator set, or by its document's
``<Reject>`` or ``<Hangup reason>``) did what its owner asked: it did not fail,
and is no Debugger entry (as Twilio's Debugger does not list a ``<Reject>``).

SIP messages are found by Call-ID in the transport's tap. A trace starts with
the INVITE that opens a call (before the call exists, so that the INVITE and
our 100 Trying are in it); the router then ``claim``\\ s it for the call. B legs
and calls placed over REST register their Call-IDs with ``follow``. An INVITE
nobody claims (404, 403, a ban) is forgotten after ``UNCLAIMED_TTL``.

When a call ends its trace stays open for ``linger`` seconds (the ACK of an
error response, the 200 to our BYE), then is rendered and queued with the
record writer's next batch, with the call's Debugger events.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import orjson

from callplane.calls.trace import DEFAULT_MAX_BYTES, CallTrace, Party, Problem, WebhookCapture
from callplane.calls.trace_render import snapshot
from callplane.net.rtp_session import RtpSession
from callplane.store.models import DebuggerEvent, StoredTrace

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.calls.causes import Cause
    from callplane.calls.records import RecordWriter
    from callplane.sip.events import Address

log = logging.getLogger("callplane.trace")

LINGER = 1.0  # seconds a trace stays open after its call ended
SWEEP_EVERY = 10.0  # seconds between sweeps of unclaimed INVITEs
PURGE_EVERY = 3600.0  # seconds between deletions of traces past the retention
UNCLAIMED_TTL = 32.0  # an INVITE's trace no call claimed is dropped after this (64*T1)
MAX_UNCLAIMED = 4096  # INVITEs being traced before a call claims them, at most
_CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


class TraceMode(StrEnum):
    ALL = "all"
    FAILED = "failed"
    OFF = "off"


def call_id_of(data: bytes) -> bytes | None:
    found = _CALL_ID.search(data)
    return found.group(1).strip() if found else None


class Tracer:
    """The traces of this process's calls, by SIP Call-ID."""

    def __init__(
        self,
        mode: TraceMode | str = TraceMode.OFF,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        records: RecordWriter | None = None,
        linger: float = LINGER,
    ) -> None:
        self.mode = TraceMode(mode)
        self.max_bytes = max_bytes
        self.records = records
        self.linger = linger
        self._by_call_id: dict[bytes, CallTrace] = {}
        self._unclaimed: dict[bytes, float] = {}  # Call-ID -> when its INVITE came

    @property
    def on(self) -> bool:
        return self.mode is not TraceMode.OFF

    # -- capture --------------------------------------------------------------------------

    def tap(self, direction: str, transport: str, src: Address, dst: Address, data: bytes) -> None:
        """The SIP transport's tap: file ``data`` with the trace of its Call-ID."""
        call_id = call_id_of(data)
        if call_id is None:
            return
        trace = self._by_call_id.get(call_id)
        if trace is None:
            if direction != "in" or not data.startswith(b"INVITE "):
                return
            if len(self._unclaimed) >= MAX_UNCLAIMED:
                return
            trace = CallTrace(self.max_bytes)
            self._by_call_id[call_id] = trace
            self._unclaimed[call_id] = time.monotonic()
        trace.sip_message(direction, transport, src, dst, data, call_id)

    def claim(self, call: Call, call_id: str, source: Address, local: Address) -> None:
        """Give ``call`` (an incoming call) the trace its INVITE started."""
        if not self.on:
            return
        key = call_id.encode()
        trace = self._by_call_id.get(key)
        if trace is None:
            trace = self._by_call_id[key] = CallTrace(self.max_bytes)
        self._unclaimed.pop(key, None)
        trace.add_party(Party("caller", "Caller", _address(source)), key)
        trace.add_party(Party("callplane", "Callplane", _address(local)))
        call.trace = trace

    def forget(self, call_id: str) -> None:
        """The INVITE ``call_id`` was refused before it became a call: drop its trace."""
        if self._unclaimed:
            key = call_id.encode()
            if self._unclaimed.pop(key, None) is not None:
                self._by_call_id.pop(key, None)

    def follow(self, call: Call, call_id: str, uri: str, dest: Address, leg_uuid: str) -> None:
        """File the messages of ``call``'s outgoing INVITE ``call_id`` (a B leg, or the
        SIP side of a call placed over REST) under its trace."""
        if not self.on:
            return
        trace = call.trace
        if trace is None:  # a placed call: its trace starts with its INVITE
            trace = call.trace = CallTrace(self.max_bytes)
            trace.add_party(Party("callplane", "Callplane", _address(call.leg.sip.local_address)))
        key = call_id.encode()
        leg = trace.next_leg_id()
        label = f"Callee {uri}" if leg_uuid == call.uuid else f"B leg {uri}"
        trace.add_party(Party(leg, label, _address(dest), leg_uuid), key)
        self._by_call_id[key] = trace

    def party_of(self, call: Call, call_id: str) -> str | None:
        """The column of the leg with ``call_id`` in ``call``'s trace."""
        return call.trace.call_ids.get(call_id.encode()) if call.trace else None

    def sweep(self, now: float | None = None) -> None:
        """Forget the traces of INVITEs that no call claimed."""
        now = time.monotonic() if now is None else now
        stale = [key for key, at in self._unclaimed.items() if now - at > UNCLAIMED_TTL]
        for key in stale:
            del self._unclaimed[key]
            self._by_call_id.pop(key, None)

    async def tend(
        self, delete_before: Callable[[datetime], Awaitable[None]], retention: timedelta
    ) -> None:
        """Forever: sweep unclaimed INVITEs, and delete kept traces and Debugger events
        older than ``retention`` (at start, then hourly)."""
        purged = -PURGE_EVERY
        while True:
            self.sweep()
            if time.monotonic() - purged >= PURGE_EVERY:
                purged = time.monotonic()
                try:
                    await delete_before(_utcnow() - retention)
                except Exception as exc:  # the database is away: next hour
                    log.warning("deleting old call traces failed: %s", exc)
            await asyncio.sleep(SWEEP_EVERY)

    # -- the end of a call --------------------------------------------------------------

    def finished(self, call: Call, cause: Cause) -> None:
        """``call`` ended: note its media figures, keep its trace after ``linger``."""
        trace = call.trace
        if trace is None:
            return
        media = call.leg.media
        if media is not None and "caller" in trace.parties:
            session = media.session
            if isinstance(session, RtpSession):
                trace.media_ended("caller", session.stats())
        failed = ended_badly(cause) and call.reject_reason is None
        loop = asyncio.get_running_loop()
        loop.call_later(self.linger, self._keep, call, trace, failed)

    def _keep(self, call: Call, trace: CallTrace, failed: bool) -> None:
        for key in trace.call_ids:
            if self._by_call_id.get(key) is trace:
                del self._by_call_id[key]
        problems = [*trace.problems, *_webhook_problems(trace.webhooks)]
        failed = failed or bool(problems) or trace.sip_failed
        if self.mode is TraceMode.FAILED and not failed:
            return
        if self.records is None:
            return
        record = call.record
        try:
            body = orjson.dumps(snapshot(trace, call.uuid, self.mode.value, record.events))
        except Exception:  # a capture that cannot be stored must not cost the record
            log.exception("storing the trace of call %s failed", call.uuid)
            return
        stored = StoredTrace(
            call.uuid, record.auth_id, _utcnow(), self.mode.value, trace.truncated, body.decode()
        )
        events = [
            DebuggerEvent(
                uuid.uuid4().hex,
                record.auth_id,
                datetime.fromtimestamp(p.at, UTC),
                p.level,
                p.kind,
                p.message,
                call.uuid,
            )
            for p in problems
        ]
        self.records.put_trace(stored, events)


def ended_badly(cause: Cause) -> bool:
    """A hangup cause that says something went wrong: the call's status is ``failed``
    (an internal error, a node stopped or lost with it, a destination that failed)
    or ``timeout``. A caller's cancel, a busy or unanswered destination, a drained
    node's hangup or a time limit are how calls end, not failures."""
    return cause.call_status in ("failed", "timeout")


def _webhook_problems(webhooks: list[WebhookCapture]) -> list[Problem]:
    problems = []
    for hook in webhooks:
        if not hook.finished or hook.outcome == "ok" or not hook.attempts:
            continue  # a request still under way when the trace is kept is not judged
        last = hook.attempts[-1]
        what = last.error or (f"HTTP {last.status}" if last.status else "failed")
        message = f"{hook.kind} {hook.method} {hook.url}: {what}"
        if hook.outcome == "queued" and len(hook.attempts) > 1:
            kind, level = "retries_exhausted", "warning"
            message += f" after {len(hook.attempts)} attempts; queued for retry"
        elif any("timeout" in (a.error or "").lower() for a in hook.attempts):
            kind, level = "webhook_timeout", "error"
        else:
            kind, level = "webhook_failed", "error"
        problems.append(Problem(last.at + last.latency, level, kind, message))
    return problems


def _address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _utcnow() -> datetime:
    return datetime.now(UTC)
