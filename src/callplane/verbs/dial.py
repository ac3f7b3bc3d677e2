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

Around that (helpers in ``dial_*.py``): ``sipHeaders`` (Dial's and ``<User>``'s)
go on the INVITE as ``X-PH-name``; while legs ring the caller hears 180, the
``dialMusic`` document looped as early media, or with ``dialMusic="real"`` the
first callee's own early media (183 + SDP); ``sendDigits`` goes to a leg once it
answers (on its 183 with ``sendOnPreanswer``); with ``confirmSound`` /
``confirmKey`` an answered leg only wins once its callee pressed the key
(others keep ringing; a refusing leg is hung up, cause NO_ANSWER). During the
bridge the caller's ``*`` ends it with ``hangupOnStar`` (the key is not relayed;
DialStatus completed, the A leg goes on), and keys matching ``digitsMatch`` /
``digitsMatchBLeg`` are reported to ``callbackUrl``, which also gets every B
leg's answer, connection and hangup (``dial_events.py``). Recordings waiting for
the answer (``<Record startOnDialAnswer>``, TwiML ``record``) start at the bridge.

Dial status reporting (design.md §4), with the Dial's ``method``: DialStatus,
DialRingStatus (any 180/183), DialHangupCause (Q.850 name), DialALegUUID,
DialBLegUUID ("" if nobody answered); TwiML documents also get DialCallStatus,
DialCallSid and DialCallDuration. The report carries the call's CallStatus as
it is when it leaves: ``completed`` once the caller hung up (the report is then
sent and its answer ignored: no call is left to drive), ``in-progress`` when
the callee hung up first. The exact mapping:

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
from collections.abc import Callable
from dataclasses import dataclass

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.causes import Cause
from callplane.calls.outbound import (
    Destination,
    OutboundLeg,
    number_destination,
    uri_destinations,
)
from callplane.calls.params import twilio_status
from callplane.errors import SipParseError
from callplane.markup.verbs import (
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    DialTarget,
    DialUser,
    Record,
)
from callplane.media.bridge import Bridge, DigitHook, Side
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome
from callplane.verbs.dial_digits import DigitsMatcher
from callplane.verbs.dial_events import DialEvents
from callplane.verbs.dial_race import Race, dial_music, drop
from callplane.verbs.record import start_session_recording

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
    if call.ended:  # e.g. the caller left as the winner answered: still reported
        abandoned(result)
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
        result = _abandon(list(legs))
        if on_abandon is not None:
            on_abandon(result)
        raise


def _legs(call: Call, verb: Dial) -> dict[OutboundLeg, DialTarget]:
    """One B leg per destination of each target, in the Dial's order."""
    caller_id = verb.caller_id or call.record.from_number
    caller_name = verb.caller_name or call.record.caller_name
    legs: dict[OutboundLeg, DialTarget] = {}
    for target in verb.targets:
        found = _destinations(call, target)
        if not found:
            call.note(f"Dial: no destination for {target}", "error")
        headers = _sip_headers(verb, target)
        for destination in found:
            leg = OutboundLeg(call, destination, caller_id, caller_name)
            leg.extra_headers = headers
            legs[leg] = target
    return legs


def _sip_headers(verb: Dial, target: DialTarget) -> tuple[tuple[str, str], ...]:
    """Dial's and ``<User>``'s sipHeaders as ``X-PH-`` headers on the INVITE (Plivo's way)."""
    own = target.sip_headers if isinstance(target, DialUser) else {}
    return tuple((f"X-PH-{name}", value) for name, value in {**verb.sip_headers, **own}.items())


def _destinations(call: Call, target: DialTarget) -> list[Destination]:
    outbound = call.services.outbound
    registrar = outbound.registrar if outbound else None
    try:
        if isinstance(target, DialNumber):
            trunks = call.services.trunks.of(call.route.account)
            found = number_destination(target.number, trunks)
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


async def _dial(call: Call, verb: Dial, legs: dict[OutboundLeg, DialTarget]) -> DialResult:
    if not legs:
        return DialResult("failed", False, causes.NO_DESTINATION.q850)
    race = Race(call, verb, legs)
    for leg in legs:
        leg.on_change = race.changed
    music = asyncio.ensure_future(dial_music(call, verb))
    try:
        for leg in legs:
            await leg.start()
        winner = await race.winner(verb.timeout or DEFAULT_RING_TIMEOUT)
    finally:
        music.cancel()
        await asyncio.gather(music, return_exceptions=True)
        await race.close()
    for leg in legs:
        if leg is not winner:
            drop(call, leg, winner is not None)
    if winner is None:
        return _unanswered(list(legs))
    return await _connect(call, verb, winner, race.events)


async def _connect(call: Call, verb: Dial, leg: OutboundLeg, events: DialEvents) -> DialResult:
    if not await call.answer():
        await leg.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
        return DialResult("completed", leg.rang, causes.NORMAL_HANGUP.q850, leg)
    _start_recordings(call, verb)
    star = asyncio.Event()
    bridge = None
    if leg.rtp is not None:
        bridge = Bridge(call.media, leg.rtp, on_digit=_digit_hook(verb, events, leg, star))
        bridge.start()
    call.note(f"Dial: {leg.destination.uri} answered (B leg {leg.uuid}); bridged")
    events.connected(leg)
    waits = [asyncio.ensure_future(leg.ended.wait()), asyncio.ensure_future(star.wait())]
    try:
        done, _ = await asyncio.wait(
            waits, timeout=verb.time_limit, return_when=asyncio.FIRST_COMPLETED
        )
        if star.is_set() and not leg.ended.is_set():
            call.note("Dial: the caller pressed * (hangupOnStar); B leg hung up")
            await leg.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
        elif not done:
            await leg.hangup(causes.TIME_LIMIT)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        if bridge is not None:
            await bridge.stop()
    cause: Cause = leg.cause or causes.NORMAL_HANGUP
    return DialResult("completed", leg.rang, cause.q850, leg)


def _start_recordings(call: Call, verb: Dial) -> None:
    """Record startOnDialAnswer before this Dial, and TwiML ``<Dial record>``."""
    hooks, call.dial_answer_hooks = call.dial_answer_hooks, []
    for hook in hooks:
        hook()
    if verb.record:
        recording = Record(
            record_session=True,
            callback_url=verb.recording_callback_url,
            callback_method=verb.recording_callback_method,
        )
        start_session_recording(call, recording)


def _digit_hook(verb: Dial, events: DialEvents, leg: OutboundLeg, star: asyncio.Event) -> DigitHook:
    """hangupOnStar (the caller's * is kept from the callee) and digitsMatch reports."""
    matchers = {
        Side.A: DigitsMatcher(verb.digits_match),
        Side.B: DigitsMatcher(verb.digits_match_b_leg),
    }

    def heard(side: Side, key: str) -> bool:
        if side is Side.A and key == "*" and verb.hangup_on_star:
            star.set()
            return True
        pattern = matchers[side].feed(key)
        if pattern is not None:
            events.digits(leg, pattern, b_leg=side is Side.B)
        return False

    return heard


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
        params["DialCallStatus"] = twilio_status(result.status)
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
