"""One call: its state, its SIP side, its record, and the narrow API verbs use.

State changes go through ``_set_state`` and the table ``_TRANSITIONS``.
``finish`` is the only way a call ends, and it runs once: it completes the
record, releases limits and queues the customer's hangup callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from callplane.calls import causes
from callplane.calls.causes import Cause
from callplane.calls.documents import parse_fetched
from callplane.calls.params import answer_params, in_dialect
from callplane.calls.records import bill, end_record
from callplane.errors import MarkupError, WebhookError
from callplane.markup.verbs import Dialect, Document, Stream
from callplane.reject_reasons import REJECT_SIP, RejectReason
from callplane.store.models import CallRecord, Route
from callplane.webhooks.ssrf import Reach, reach_of

if TYPE_CHECKING:
    from callplane.calls.services import CallServices
    from callplane.calls.trace import CallTrace
    from callplane.media.call_media import CallMedia
    from callplane.net.sip_transport import SipTransport
    from callplane.sip.dialog import Dialog
    from callplane.sip.message import Request

log = logging.getLogger("callplane.calls")

ACK_WAIT = 32.0  # 64*T1: how long a 2xx waits for its ACK (RFC 3261 Timer H / RFC 6026 L)


class CallState(Enum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


_TRANSITIONS = {
    CallState.RINGING: {CallState.ANSWERED, CallState.ENDED},
    CallState.ANSWERED: {CallState.ENDED},
    CallState.ENDED: set(),
}


class CallLeg(Protocol):
    """The SIP side of a call: ``InboundLeg`` (a caller's INVITE) or ``UacLeg`` (a call
    placed over REST, already answered when its verbs run)."""

    sip: SipTransport
    media: CallMedia | None

    @property
    def dialog(self) -> Dialog | None: ...

    @property
    def invite(self) -> Request | None: ...

    def respond(
        self,
        code: int,
        phrase: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None: ...

    async def open_media(self) -> CallMedia | None: ...

    def early_media(self) -> None: ...

    def accept(self) -> None: ...

    def on_ack(self, ack: Request) -> None: ...

    async def wait_ack(self, timeout: float) -> bool: ...

    async def close_media(self) -> None: ...

    async def bye(self) -> bool: ...


@dataclass
class ForkedStream:
    """A ``<Stream>`` running beside the document (``keepCallAlive`` false, ``<Start>``,
    or started through the REST API); ``task`` runs it and ends with it."""

    stream_id: str
    verb: Stream
    started: datetime
    task: asyncio.Task[None]
    status: str = "in-progress"  # then "completed" or "failed"
    ended: datetime | None = None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Call:
    def __init__(
        self,
        services: CallServices,
        route: Route,
        leg: CallLeg,
        record: CallRecord,
        sip_headers: dict[str, str],
        limit_keys: tuple[str, ...],
    ) -> None:
        self.services = services
        self.route = route
        self.leg = leg
        self.record = record
        self.sip_headers = sip_headers
        self.limit_keys = limit_keys
        self.state = CallState.RINGING
        self.dialect: Dialect | None = None
        self.task: asyncio.Task[None] | None = None
        self.reject_reason: str | None = None
        self.status_callbacks_sent = 0  # Twilio's SequenceNumber of the next status callback
        self.early = False  # inside PreAnswer: media verbs must not answer
        self.executing: asyncio.Future[Document | None] | None = None  # the document running
        # (url, method) or an inline document, asked for by the API
        self.transfer_to: tuple[str, str] | Document | None = None
        self.end_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []  # run once the call ends
        self.dial_answer_hooks: list[Callable[[], None]] = []  # startOnDialAnswer recordings
        self.streams: dict[str, ForkedStream] = {}  # <Stream>s beside the document, by id
        self.trace: CallTrace | None = None  # the call inspector's capture (calls/tracer.py)
        # False for a conference member joined from another node: that node records it
        self.recorded = True

    @property
    def uuid(self) -> str:
        return self.record.call_uuid

    @property
    def answered(self) -> bool:
        return self.state is CallState.ANSWERED

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    def _set_state(self, new: CallState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"call {self.uuid}: {self.state.value} -> {new.value} not allowed")
        log.debug("call %s %s -> %s", self.uuid, self.state.value, new.value)
        self.state = new

    def note(self, message: str, level: str = "info") -> None:
        self.record.events.append(
            {"time": utcnow().isoformat(), "level": level, "message": message}
        )
        if level == "error":
            self.record.error = f"{self.record.error}; {message}" if self.record.error else message

    @property
    def reach(self) -> Reach:
        """Where this call's account's URLs may go (the outbound request policy)."""
        return reach_of(self.route.account)

    # -- documents -------------------------------------------------------------------------

    async def fetch_answer(self) -> Document | None:
        """The answer document, from answer_url or else fallback_answer_url."""
        app = self.route.application
        assert app is not None
        failures: list[Exception] = []
        for url, method in (
            (app.answer_url, app.answer_method),
            (app.fallback_answer_url, app.fallback_method),
        ):
            if not url:
                continue
            kind = "answer" if url == app.answer_url else "fallback"
            try:
                params = in_dialect(answer_params(self.record, self.sip_headers), self.app_dialect)
                return await self._fetch(url, method, params, kind)
            except (WebhookError, MarkupError) as exc:
                failures.append(exc)
                self.note(f"{kind} URL: {exc}", "error")
                if isinstance(exc, MarkupError):
                    self._invalid_document(kind, url, exc)
        invalid = bool(failures) and isinstance(failures[-1], MarkupError)
        self.fail(causes.INVALID_ANSWER_XML if invalid else causes.ANSWER_URL_FAILED)
        return None

    async def fetch_action(
        self, url: str, method: str, extra: dict[str, str] | None = None
    ) -> Document | None:
        """A document from an action URL (Redirect, GetInput...); failure ends the call."""
        try:
            return await self._fetch(url, method, self.action_params(extra))
        except (WebhookError, MarkupError) as exc:
            self.note(f"action URL: {exc}", "error")
            invalid = isinstance(exc, MarkupError)
            if isinstance(exc, MarkupError):
                self._invalid_document("action", url, exc)
            self.fail(causes.INVALID_ANSWER_XML if invalid else causes.ANSWER_URL_FAILED)
            return None

    async def notify_action(self, url: str, method: str, extra: dict[str, str]) -> None:
        """Tell an action URL what happened and ignore its answer (``redirect="false"``)."""
        try:
            await self.services.webhooks.fetch(
                url,
                method,
                self.action_params(extra),
                self.route.account.auth_token,
                reach=self.reach,
                timeout=self.services.settings.answer_timeout,
            )
        except WebhookError as exc:
            self.note(f"action URL: {exc}", "error")

    @property
    def status(self) -> str:
        """CallStatus now: ringing, in-progress, or how the call ended (completed...)."""
        if self.ended:
            return self.record.call_status
        return "in-progress" if self.answered else "ringing"

    def action_params(self, extra: dict[str, str] | None) -> dict[str, str]:
        params = {**answer_params(self.record, self.sip_headers), **(extra or {})}
        params["CallStatus"] = self.status
        del params["Event"]
        return in_dialect(params, self.app_dialect)

    @property
    def app_dialect(self) -> Dialect | None:
        """The dialect the application pins, else that of the call's last document
        (``None`` before the first one)."""
        app = self.route.application
        return Dialect(app.dialect) if app and app.dialect else self.dialect

    def _invalid_document(self, kind: str, url: str, exc: MarkupError) -> None:
        if self.trace is not None:
            self.trace.problem("error", "invalid_document", f"{kind} URL {url}: {exc}")

    async def _fetch(
        self, url: str, method: str, params: dict[str, str], kind: str = "action"
    ) -> Document:
        response = await self.services.webhooks.fetch(
            url,
            method,
            params,
            self.route.account.auth_token,
            reach=self.reach,
            timeout=self.services.settings.answer_timeout,
            kind=kind,
        )
        app = self.route.application
        pinned = Dialect(app.dialect) if app and app.dialect else None
        document = await parse_fetched(response.body, response.content_type, pinned, response.url)
        self.dialect = document.dialect
        self.note(f"{method} {response.url} -> {response.status}, {document.dialect} document")
        return document

    # -- ending ----------------------------------------------------------------------------

    def reject(self, reason: str, source: str) -> None:
        refusal = RejectReason(reason)
        code, phrase = REJECT_SIP[refusal]
        self.reject_reason = reason
        self.refuse(code, phrase, causes.REJECT_CAUSES[refusal], source)

    def refuse(
        self,
        code: int,
        phrase: str,
        cause: Cause,
        source: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Send a final non-2xx to the INVITE and end the call unanswered."""
        if self.ended:
            return
        self.leg.respond(code, phrase, headers)
        self.finish(cause, source, code)

    def fail(self, cause: Cause) -> None:
        """End the call because of an error already noted in the call log."""
        if self.answered:
            self.services.spawn(self.hangup(cause, causes.SOURCE_ERROR))
        else:
            warning = ("Warning", f'399 callplane "{cause.name}"')
            self.refuse(500, "Server Internal Error", cause, causes.SOURCE_ERROR, (warning,))

    def fail_unsupported(self, element: str, why: str) -> None:
        self.note(f"{element} is not supported yet: {why}", "error")
        self.fail(causes.UNSUPPORTED_VERB)

    @property
    def media(self) -> CallMedia:
        """The call's media; only for verbs that answered (or pre-answered) first."""
        assert self.leg.media is not None, "media used before answer() or early_media()"
        return self.leg.media

    async def answer(self) -> bool:
        """Answer with 200 OK and SDP; False (call ended) when media cannot be set up."""
        if self.answered:
            return True
        if await self.leg.open_media() is None:
            self.note("no common codec in the caller's SDP offer (or no RTP port)", "error")
            self.finish(causes.NO_COMMON_CODEC, causes.SOURCE_PLATFORM, 488)
            return False
        if self.ended:  # the caller gave up while the RTP port was being bound
            return False
        self.leg.accept()
        self._set_state(CallState.ANSWERED)
        self.record.answer_time = utcnow()
        self.record.call_status = "in-progress"
        self.record.sip_response_code = 200
        if self.recorded:
            self.services.records.put(self.record)  # a crash from now on still bills the call
        if not await self.leg.wait_ack(ACK_WAIT):
            self.note("no ACK for our 200 OK", "error")
        return not self.ended

    async def media_ready(self) -> bool:
        """Make media usable for a verb: answer, unless PreAnswer keeps the call early."""
        if self.early:
            return await self.early_media()
        return await self.answer()

    async def early_media(self) -> bool:
        """Send 183 with SDP so prompts reach the caller before answering."""
        if self.answered or self.leg.media is not None:
            return not self.ended
        if await self.leg.open_media() is None:
            self.note("no common codec in the caller's SDP offer (or no RTP port)", "error")
            self.finish(causes.NO_COMMON_CODEC, causes.SOURCE_PLATFORM, 488)
            return False
        self.leg.early_media()
        return not self.ended

    async def hangup(self, cause: Cause, source: str) -> None:
        """End an answered call from our side with BYE."""
        if self.ended:
            return
        self.finish(cause, source)
        if not await self.leg.bye():
            log.info("call %s: BYE got no final response", self.uuid)

    async def end_of_document(self) -> None:
        """The document (or flow) ran out of verbs: hang up, or refuse if never answered."""
        if self.answered:
            await self.hangup(causes.END_OF_XML, causes.SOURCE_XML)
        else:
            self.note("the document ended before the call was answered; refused 603", "info")
            self.refuse(603, "Decline", causes.UNANSWERED_END_OF_XML, causes.SOURCE_XML)

    def transfer(self, url: str, method: str) -> None:
        """Replace the running document with the one at ``url`` (REST transfer)."""
        self._replace_document((url, method))

    def transfer_inline(self, document: Document) -> None:
        """Replace the running document with ``document`` (Twilio's ``Twiml`` update)."""
        self._replace_document(document)

    def _replace_document(self, target: tuple[str, str] | Document) -> None:
        self.transfer_to = target
        if self.executing is not None and not self.executing.done():
            self.executing.cancel()

    def remote_hangup(self) -> None:
        """The caller sent BYE (answered) or CANCEL (ringing)."""
        if self.ended:
            return
        if self.answered:
            self.finish(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
        else:
            self.refuse(487, "Request Terminated", causes.CANCELLED, causes.SOURCE_CALLER)
        if self.task and self.task is not asyncio.current_task():
            self.task.cancel()

    def finish(self, cause: Cause, source: str, sip_code: int = 0) -> None:
        if self.ended:
            return
        was_answered = self.answered
        self._set_state(CallState.ENDED)
        end_record(self.record, cause, source, utcnow(), sip_code)
        if was_answered:
            bill(self.record, self.route.account)
        for hook in self.end_hooks:
            self.services.spawn(hook())
        if self.leg.media is not None:
            self.services.spawn(self.leg.close_media())
        self.services.call_ended(self, cause)


def new_call_uuid() -> str:
    """A UUID4 string, made without the uuid module's overhead on the hot path."""
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
