"""Calls placed over REST (Plivo's ``POST /Call/``): ring the callee, then run its document.

Each destination is one call: a ``Call`` whose SIP side is a ``UacLeg`` over one
``OutboundLeg`` (the INVITE Dial uses too). While it rings, ``ring_url`` hears
of the first 180/183 once; ``ring_timeout`` (and ``hangup_on_ring`` counted
from the first ring) give up with CANCEL. When the callee answers, the call is
answered and the ordinary verb loop fetches ``answer_url`` (``Direction=outbound``,
``CallStatus=in-progress``, ``Event=StartApp``) and runs the document on that leg;
``time_limit`` hangs up with BYE. However it ends, ``Call.finish`` writes the one
record and sends ``hangup_url`` (default: ``answer_url``, as on Plivo) the
CallStatus: completed, busy, no-answer, timeout, cancel or failed.

The call's CallUUID is its request_uuid, so ``GET /Call/{request_uuid}/`` finds
the call, live or ended; both go to every URL as ``RequestUUID``.

A flow places calls in two steps instead (``flows/outbound.py``): ``new_call``
(with no answer_url, so no URL hears of it), then ``ring`` in the run's own task,
which becomes the call's task; on answer the flow, not a document, drives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from callplane.calls import causes
from callplane.calls.call import Call, new_call_uuid, utcnow
from callplane.calls.outbound import Destination, OutboundLeg, number_destination, uri_destinations
from callplane.calls.params import call_params
from callplane.calls.placed import CallRequest, Ringing, is_sip_uri
from callplane.calls.twilio_params import status_event, twilio_ids
from callplane.calls.uac_leg import UacLeg
from callplane.control import session
from callplane.control.services import Services
from callplane.errors import SipParseError
from callplane.net.sip_transport import SipTransport
from callplane.rtp.errors import RtpError
from callplane.store.models import Account, Application, CallRecord, Number, Route
from callplane.webhooks.observe import OBSERVER

log = logging.getLogger("callplane.calls")


class Originator:
    """Places calls for the REST API; lives beside the router in ``callplane serve``."""

    def __init__(self, services: Services, sip: SipTransport) -> None:
        self.services = services
        self.sip = sip

    def place(self, account: Account, request: CallRequest, to: str) -> str:
        """Start calling ``to`` (a number or a SIP URI); the request_uuid (= CallUUID)."""
        call = self.new_call(account, request, to)
        self._report(call, request, "initiated")
        call.task = self.services.spawn(self._run(call, request, to))
        return call.uuid

    def new_call(self, account: Account, request: CallRequest, to: str) -> Call:
        """A call to ``to``, live and recorded; ``ring`` it in the task that owns it."""
        call = self._new_call(account, request, to)
        self.services.call_placed(call)
        return call

    def _new_call(self, account: Account, request: CallRequest, to: str) -> Call:
        uuid = new_call_uuid()
        record = CallRecord(
            call_uuid=uuid,
            auth_id=account.auth_id,
            from_number=request.from_number.lstrip("+"),
            to_number=to if is_sip_uri(to) else to.lstrip("+"),
            call_direction="outbound",
            caller_name=request.caller_name,
            initiation_time=utcnow(),
            total_rate=f"{float(account.rate_per_minute):.5f}",
        )
        app = Application(
            app_id="",
            auth_id=account.auth_id,
            app_name="outbound call",
            answer_url=request.answer_url,
            answer_method=request.answer_method,
            fallback_answer_url=request.fallback_url,
            fallback_method=request.fallback_method,
            hangup_url=_hangup_url(request),
            hangup_method=request.twilio.method if request.twilio else request.hangup_method,
        )
        route = Route(Number(record.from_number, account.auth_id), account, app)
        params = {"RequestUUID": uuid, "ALegRequestUUID": uuid}
        if request.twilio:
            params.update(twilio_ids(record))
        return Call(self.services, route, UacLeg(self.sip), record, params, ())

    async def _run(self, call: Call, request: CallRequest, to: str) -> None:
        if (await self.ring(call, request, to)).answered:
            await session.run(call, request.document)

    async def ring(self, call: Call, request: CallRequest, to: str) -> Ringing:
        """Ring ``to`` until the callee answers (the call is answered and ``time_limit``
        armed) or the call ends unanswered."""
        destination = self._destination(call, to)
        if destination is None:
            call.note(f"no route to {to}", "error")
            call.finish(causes.NO_DESTINATION, causes.SOURCE_PLATFORM)
            return Ringing(False, False, causes.NO_DESTINATION)
        uac = OutboundLeg(
            call, destination, call.record.from_number, request.caller_name, shares_record=True
        )
        uac.extra_headers = request.sip_headers
        changed = asyncio.Event()
        uac.on_change = changed.set
        leg = call.leg
        assert isinstance(leg, UacLeg)
        leg.attach(call, uac)
        await uac.start()
        OBSERVER.set(call.trace)  # the trace starts with the INVITE: ring_url goes in it
        if not await self._ring(call, uac, request, changed):
            return Ringing(False, uac.rang, uac.cause or causes.CANCELLED)
        if not await call.answer():
            await uac.hangup(causes.NO_COMMON_CODEC)
            return Ringing(False, uac.rang, causes.NO_COMMON_CODEC)
        call.note(f"{destination.uri} answered")
        self._report(call, request, "answered")
        limit = asyncio.get_running_loop().call_later(request.time_limit, self._time_up, call)

        async def disarm() -> None:
            limit.cancel()

        call.end_hooks.append(disarm)
        if request.send_digits:
            self.services.spawn(_send_digits(call, request.send_digits))
        return Ringing(True, uac.rang)

    def _destination(self, call: Call, to: str) -> Destination | None:
        if not is_sip_uri(to):
            trunks = self.services.trunks.of(call.route.account)
            return number_destination(to.lstrip("+"), trunks)
        outbound = self.services.outbound
        try:
            found = uri_destinations(to, outbound.registrar if outbound else None)
        except SipParseError as exc:
            log.info("unusable destination %r: %s", to, exc)
            return None
        return found[0] if found else None  # an endpoint: its latest registration

    async def _ring(
        self, call: Call, uac: OutboundLeg, request: CallRequest, changed: asyncio.Event
    ) -> bool:
        """Wait for the answer; give up on ``ring_timeout`` or ``hangup_on_ring``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.ring_timeout
        cause = causes.NO_ANSWER
        reported = False
        while not (uac.answered or uac.ended.is_set() or call.ended):
            if uac.rang and not reported:
                reported = True
                self._report_ringing(call, request)
                if request.hangup_on_ring:
                    deadline = min(deadline, loop.time() + request.hangup_on_ring)
                    cause = causes.CANCELLED
            remaining = deadline - loop.time()
            if remaining <= 0:
                uac.give_up(cause if uac.heard else causes.DIAL_TIMEOUT)
                return False
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return uac.answered and not call.ended

    def _report_ringing(self, call: Call, request: CallRequest) -> None:
        call.note("ringing")
        if request.twilio:
            self._report(call, request, "ringing")
            return
        if not request.ring_url:
            return
        params = {**call_params(call.record, call.sip_headers), "Event": "Ring"}
        params["CallStatus"] = "ringing"
        self._notify(call, request.ring_url, request.ring_method, params)

    def _report(self, call: Call, request: CallRequest, event: str) -> None:
        """A Twilio status callback, if the request asked for ``event``."""
        wanted = request.twilio
        if wanted is None or not wanted.url or event not in wanted.events:
            return
        self._notify(call, wanted.url, wanted.method, status_event(call, event))

    def _notify(self, call: Call, url: str, method: str, params: dict[str, str]) -> None:
        account = call.route.account
        self.services.spawn(
            self.services.webhooks.notify(
                url, method, params, account.auth_token, auth_id=account.auth_id, reach=call.reach
            )
        )

    def _time_up(self, call: Call) -> None:
        if call.ended:
            return
        call.note("time_limit reached")
        if call.task is not None:
            call.task.cancel()
        self.services.spawn(call.hangup(causes.TIME_LIMIT, causes.SOURCE_PLATFORM))


def _hangup_url(request: CallRequest) -> str:
    """Plivo: ``hangup_url``, else ``answer_url``; Twilio: the status callback, and
    only when ``completed`` was asked for."""
    wanted = request.twilio
    if wanted is None:
        return request.hangup_url or request.answer_url
    return wanted.url if "completed" in wanted.events else ""


async def _send_digits(call: Call, digits: str) -> None:
    try:
        await call.media.send_digits(digits)
    except RtpError as exc:
        call.note(f"send_digits not sent: {exc}", "error")
