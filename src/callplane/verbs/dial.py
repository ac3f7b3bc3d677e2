"""Dial: ring every target at once, connect the first that answers, report how it ended.

Each target becomes a B leg (``calls/outbound.py``). The first 2xx wins; the
others get CANCEL (cause LOSE_RACE). ``timeout`` (30 s when absent) gives up
on all of them. The caller hanging up while they ring cancels them all at once.
Once a B leg answers, the A leg is answered (if it was not) and both stay up
until either side sends BYE or ``timeLimit`` passes; the B leg is then hung up
and the Dial ends: the action URL's document, or the verbs after Dial, decide
what happens to the A leg (with nothing left, ``end_of_document`` hangs it up).
Once the B leg answers, the two legs are bridged by ``media/bridge.py`` (audio both
ways, DTMF relayed) until either side hangs up or ``timeLimit`` ends the call.

Dial status reporting (design.md §4), with the Dial's ``method``: DialStatus,
DialRingStatus (any 180/183), DialHangupCause (Q.850 name), DialALegUUID,
DialBLegUUID ("" if nobody answered); TwiML documents also get DialCallStatus,
DialCallSid and DialCallDuration. The exact mapping:

=====================================  ==========  ===========================
what happened                          DialStatus  DialHangupCause
=====================================  ==========  ===========================
answered, then BYE from either side    completed   NORMAL_CLEARING
answered, ``timeLimit`` reached        completed   ALLOTTED_TIMEOUT
486 Busy Here, 600 Busy Everywhere     busy        USER_BUSY
603 Decline                            busy        CALL_REJECTED
408 (from the far end), 480            no-answer   NO_ANSWER / NO_USER_RESPONSE
ring timeout after any response        no-answer   NO_ANSWER
no response at all (ring timeout or    timeout     RECOVERY_ON_TIMER_EXPIRE
Timer B)
403/401/407, 404/604, 484, 488/606,    failed      CALL_REJECTED,
503, 607, any other 4xx-6xx                        UNALLOCATED_NUMBER, ...
no destination (no gateway, endpoint   failed      NO_ROUTE_DESTINATION
not registered)
caller hung up while ringing           no-answer   ORIGINATOR_CANCEL
=====================================  ==========  ===========================

603 is *busy*, not *failed*: a person declined the call, as a busy line says
"not now"; customers route busy and no-answer to voicemail and failed to
alerts, and Twilio reports a declined call as busy too. DialHangupCause
(CALL_REJECTED) still tells it apart from a busy line. With several targets
and no answer, the most telling leg decides: no-answer, busy, timeout, failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.causes import Cause
from callplane.calls.outbound import Destination, OutboundLeg, number_destination, uri_destinations
from callplane.errors import SipParseError
from callplane.markup.verbs import (
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    DialTarget,
    DialUser,
)
from callplane.media.bridge import Bridge
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome

DEFAULT_RING_TIMEOUT = 30
UNANSWERED_ORDER = ("no-answer", "busy", "timeout", "failed")


@dataclass(frozen=True, slots=True)
class DialResult:
    status: str
    rang: bool
    cause: str  # Q.850 name
    b_leg: OutboundLeg | None = None


async def run(call: Call, verb: Dial) -> Outcome:
    def abandoned(result: DialResult) -> None:
        if verb.action:
            call.services.spawn(call.notify_action(verb.action, verb.method, params(call, result)))

    result = await dial(call, verb, abandoned)
    if call.ended:
        return ENDED
    return await _report(call, verb, result)


async def dial(
    call: Call, verb: Dial, on_abandon: Callable[[DialResult], None] | None = None
) -> DialResult:
    """Ring the Dial's targets, bridge the winner until one side hangs up; how it ended.

    Cancelled (the caller left, a transfer): every B leg is cancelled or hung up,
    ``on_abandon`` gets the result, and the cancellation goes on.
    """
    legs = _legs(call, verb)
    try:
        return await _dial(call, verb, legs)
    except asyncio.CancelledError:
        result = _abandon(legs)
        if on_abandon is not None:
            on_abandon(result)
        raise


def _legs(call: Call, verb: Dial) -> list[OutboundLeg]:
    caller_id = verb.caller_id or call.record.from_number
    caller_name = verb.caller_name or call.record.caller_name
    legs = []
    for target in verb.targets:
        found = _destinations(call, target)
        if not found:
            call.note(f"Dial: no destination for {target}", "error")
        legs += [OutboundLeg(call, d, caller_id, caller_name) for d in found]
    return legs


def _destinations(call: Call, target: DialTarget) -> list[Destination]:
    outbound = call.services.outbound
    registrar = outbound.registrar if outbound else None
    try:
        if isinstance(target, DialNumber):
            found = number_destination(target.number)
            return [found] if found else []
        if isinstance(target, DialUser):
            return uri_destinations(target.uri, registrar)
        if isinstance(target, DialSip):
            return uri_destinations(target.uri, None, target.username, target.password)
        if isinstance(target, DialClient) and registrar and registrar.lookup(target.identity):
            return uri_destinations(f"sip:{target.identity}@localhost", registrar)
    except SipParseError as exc:
        call.note(f"Dial: bad SIP URI in {target}: {exc}", "error")
    return []


async def _dial(call: Call, verb: Dial, legs: list[OutboundLeg]) -> DialResult:
    if not legs:
        return DialResult("failed", False, causes.NO_DESTINATION.q850)
    watch = _Watch(call, legs)
    for leg in legs:
        leg.on_change = watch.changed
    for leg in legs:
        await leg.start()
    winner = await _first_answer(legs, watch.event, verb.timeout or DEFAULT_RING_TIMEOUT)
    if winner is None:
        for leg in legs:
            leg.give_up(causes.NO_ANSWER if leg.heard else causes.DIAL_TIMEOUT)
        return _unanswered(legs)
    for leg in legs:
        if leg is not winner:
            leg.give_up(causes.LOST_RACE)
    return await _connect(call, verb, winner)


class _Watch:
    """Wakes the Dial on every B-leg change; tells the caller "Ringing" on the first 18x."""

    def __init__(self, call: Call, legs: list[OutboundLeg]) -> None:
        self.call = call
        self.legs = legs
        self.event = asyncio.Event()
        self.ringing_sent = False

    def changed(self) -> None:
        self.event.set()
        call = self.call
        if self.ringing_sent or call.answered or call.ended or call.leg.media is not None:
            return
        if any(leg.rang for leg in self.legs):
            self.ringing_sent = True
            call.leg.respond(180, "Ringing")


async def _first_answer(
    legs: list[OutboundLeg], changed: asyncio.Event, timeout: float
) -> OutboundLeg | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        winner = next((leg for leg in legs if leg.answered), None)
        remaining = deadline - loop.time()
        if winner or all(leg.ended.is_set() for leg in legs) or remaining <= 0:
            return winner
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), remaining)


async def _connect(call: Call, verb: Dial, leg: OutboundLeg) -> DialResult:
    if not await call.answer():
        await leg.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
        return DialResult("completed", leg.rang, causes.NORMAL_HANGUP.q850, leg)
    call.note(f"Dial: {leg.destination.uri} answered (B leg {leg.uuid}); bridged")
    bridge = Bridge(call.media, leg.rtp) if leg.rtp is not None else None
    if bridge is not None:
        bridge.start()
    try:
        await asyncio.wait_for(leg.ended.wait(), verb.time_limit)
    except TimeoutError:
        await leg.hangup(causes.TIME_LIMIT)
    finally:
        if bridge is not None:
            await bridge.stop()
    cause: Cause = leg.cause or causes.NORMAL_HANGUP
    return DialResult("completed", leg.rang, cause.q850, leg)


def _unanswered(legs: list[OutboundLeg]) -> DialResult:
    outcomes = [leg.cause or causes.DESTINATION_FAILED for leg in legs]
    best = min(outcomes, key=lambda c: _rank(c.call_status))
    status = best.call_status if best.call_status in UNANSWERED_ORDER else "failed"
    return DialResult(status, any(leg.rang for leg in legs), best.q850)


def _rank(status: str) -> int:
    return UNANSWERED_ORDER.index(status) if status in UNANSWERED_ORDER else len(UNANSWERED_ORDER)


def _abandon(legs: list[OutboundLeg]) -> DialResult:
    """The caller left: cancel every ringing leg, hang up an answered one."""
    winner = next((leg for leg in legs if leg.answered), None)
    for leg in legs:
        if leg.answered:
            leg.parent.services.spawn(leg.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER))
        else:
            leg.give_up(causes.CANCELLED, causes.SOURCE_CALLER)
    if winner is not None:
        return DialResult("completed", winner.rang, causes.NORMAL_HANGUP.q850, winner)
    rang = any(leg.rang for leg in legs)
    return DialResult("no-answer", rang, causes.CANCELLED.q850)


def params(call: Call, result: DialResult) -> dict[str, str]:
    b_leg = result.b_leg
    params = {
        "DialStatus": result.status,
        "DialRingStatus": "true" if result.rang else "false",
        "DialHangupCause": result.cause,
        "DialALegUUID": call.uuid,
        "DialBLegUUID": b_leg.uuid if b_leg else "",
    }
    if call.dialect is Dialect.TWIML:
        params["DialCallStatus"] = result.status
        params["DialCallSid"] = b_leg.uuid if b_leg else ""
        params["DialCallDuration"] = str(b_leg.record.call_duration if b_leg else 0)
    return params


async def _report(call: Call, verb: Dial, result: DialResult) -> Outcome:
    call.note(f"Dial ended: {result.status} ({result.cause})")
    if not verb.action:
        return NEXT
    report = params(call, result)
    if not verb.redirect:
        await call.notify_action(verb.action, verb.method, report)
        return NEXT
    document = await call.fetch_action(verb.action, verb.method, report)
    return ENDED if document is None else NewDocument(document)
