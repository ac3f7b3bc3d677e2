"""What every call shares: transports, webhook client, record writer, limits, live calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from callplane.calls.causes import Cause
from callplane.calls.params import hangup_params, rejected_event
from callplane.calls.records import RecordWriter
from callplane.calls.services import RoomHomes
from callplane.calls.tracer import Tracer
from callplane.calls.twilio_params import placed_through_twilio
from callplane.config import Settings
from callplane.control.node import Node
from callplane.control.screening import Limits
from callplane.markup.verbs import Dialect
from callplane.media.conference import Conferences
from callplane.media.fetch import AudioFetcher
from callplane.media.tts import TtsEngine
from callplane.metrics import Metrics
from callplane.net.auth_failures import AuthFailures
from callplane.net.bans import DEFAULT_BAN_SECONDS
from callplane.net.guard import SourceGuard
from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import RtpSession
from callplane.store.models import Recording
from callplane.store.trunks import TrunkTable
from callplane.webhooks.client import Callback, WebhookClient
from callplane.webhooks.signing import SigningKeys
from callplane.webhooks.stream_socket import StreamConnector, StreamSockets

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.calls.outbound import OutboundLegs
    from callplane.flows.runtime import FlowRunner

log = logging.getLogger("callplane.calls")


class CallWatcher(Protocol):
    """Told when this process starts and ends owning a call (cluster live state)."""

    def call_started(self, call: Call) -> None: ...

    def call_ended(self, call: Call) -> None: ...


@dataclass
class Services:
    settings: Settings
    webhooks: WebhookClient
    records: RecordWriter
    ports: PortAllocator
    tts: TtsEngine
    audio: AudioFetcher
    save_recording: Callable[[Recording], Awaitable[object]]
    limits: Limits = field(default_factory=Limits)
    live: dict[str, Call] = field(default_factory=dict)  # call_uuid -> call
    by_call_id: dict[str, Call] = field(default_factory=dict)  # SIP Call-ID -> call
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    outbound: OutboundLegs | None = None  # Dial's B legs and the registrar (set by Router)
    flows: FlowRunner | None = None  # runs the flows numbers are assigned (set by serve)
    trunks: TrunkTable = field(default_factory=TrunkTable)  # the store's, read by Dial
    conferences: Conferences = field(default_factory=Conferences)  # rooms by account, name
    streams: StreamConnector = field(default_factory=StreamSockets)  # <Stream> WebSockets
    tracer: Tracer = field(default_factory=Tracer)  # the call inspector (off unless set)
    # per-source limits and the bans shared by SIP and the REST API (serve's: from settings)
    guard: SourceGuard = field(default_factory=lambda: SourceGuard.of(2.0, 0, DEFAULT_BAN_SECONDS))
    auth_failures: AuthFailures = field(init=False)  # bans after --auth-failures
    metrics: Metrics = field(default_factory=Metrics)  # this server's own registry
    node: Node = field(init=False)  # probes and draining (control/node.py)
    _quiet: asyncio.Event | None = field(default=None, init=False)  # set when live empties
    watcher: CallWatcher | None = None  # cluster live state (--redis-url; set by serve)
    room_homes: RoomHomes | None = None  # rooms spanning nodes (--cluster-secret; serve)
    # members other nodes joined to this node's rooms, by their call's uuid (room_guests.py)
    guests: dict[str, Call] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self.auth_failures = AuthFailures(self.guard.bans, s.auth_failures, s.auth_window)
        self.node = Node(s.node, s.drain_timeout)
        self.metrics.calls_active.set_function(lambda: len(self.live))
        self.metrics.bans_active.set_function(lambda: len(self.guard.bans.active()))
        self.metrics.draining.set_function(lambda: int(self.node.draining))
        self.metrics.count_guard(lambda: self.guard.tally.totals)
        self.records.observe = self.metrics.record_batch.observe

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def _after_record(self, call_uuid: str, callback: Coroutine[Any, Any, Any]) -> None:
        """Send ``callback`` once the call's final record is readable through the API."""
        try:
            await self.records.written(call_uuid)
        except BaseException:  # cancelled while waiting (shutdown): the callback never runs
            callback.close()
            raise
        await callback

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_coro(), exc_info=task.exception())

    def call_started(self, call: Call, sip_call_id: str) -> None:
        self.live[call.uuid] = call
        self.by_call_id[sip_call_id] = call
        self.limits.acquire(call.limit_keys)
        self.records.put(call.record)
        self.metrics.inbound_started.inc()
        if self.watcher is not None:
            self.watcher.call_started(call)

    def call_placed(self, call: Call) -> None:
        """A call placed over REST: live and recorded; its SIP is its B leg's (``outbound``)."""
        self.live[call.uuid] = call
        self.records.put(call.record)
        self.metrics.outbound_started.inc()
        if self.watcher is not None:
            self.watcher.call_started(call)

    def call_ended(self, call: Call, cause: Cause) -> None:
        if self.live.pop(call.uuid, None) is not None and self.watcher is not None:
            self.watcher.call_ended(call)
        invite = call.leg.invite
        if invite is not None and self.by_call_id.get(invite.call_id) is call:
            del self.by_call_id[invite.call_id]
        if not call.recorded:  # a member another node runs: it records and reports the call
            return
        self.limits.release(call.limit_keys)
        self.metrics.calls_ended.labels(cause.q850).inc()
        media = call.leg.media
        if media is not None and isinstance(media.session, RtpSession):
            self.metrics.leg_ended(media.session.stats())
        if not self.live and self._quiet is not None:
            self._quiet.set()
        callbacks = self._ended_callbacks(call, cause)
        self.records.put(call.record, [callback.stored for callback in callbacks])
        self.tracer.finished(call, cause)
        if callbacks:
            keys = SigningKeys(call.route.account.auth_token)
            for callback in callbacks:
                delivery = self.webhooks.deliver(callback, keys, call.trace)
                self.spawn(self._after_record(call.uuid, delivery))

    def _ended_callbacks(self, call: Call, cause: Cause) -> list[Callback]:
        """The hangup callback and the ``call-rejected`` status callback an ended call
        owes; their outbox rows go in the transaction of its final record."""
        app = call.route.application
        if app is None:
            return []
        auth_id = call.route.account.auth_id
        callbacks = []
        if app.hangup_url:
            twilio = placed_through_twilio(call.sip_headers)  # even before any TwiML ran
            dialect = Dialect.TWIML if twilio else call.app_dialect
            params = hangup_params(
                call.record, call.sip_headers, cause.q850, dialect, call.status_callbacks_sent
            )
            callbacks.append(
                self.webhooks.prepare(
                    app.hangup_url,
                    app.hangup_method,
                    params,
                    auth_id=auth_id,
                    reach=call.reach,
                    kind="hangup",
                )
            )
        if call.reject_reason and app.status_callback_url:
            event = rejected_event(call.record, call.reject_reason)
            callbacks.append(
                self.webhooks.prepare(
                    app.status_callback_url,
                    app.status_callback_method,
                    None,
                    auth_id=auth_id,
                    reach=call.reach,
                    json_body=event,
                    kind="status",
                )
            )
        return callbacks

    async def calls_ended(self) -> None:
        """Return once no call is live (draining waits on it)."""
        while self.live:
            self._quiet = asyncio.Event()
            await self._quiet.wait()

    async def drain(self, timeout: float = 5.0) -> None:
        """Let callbacks in flight finish (every one has its outbox row: what does not
        finish is sent again by the next process)."""
        if self.tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), timeout)
