"""The ringing part of a Dial: B legs racing to answer, and what the caller hears meanwhile.

``Race`` is every leg's ``on_change``: it wakes the Dial, reports callbackUrl
events, sends ``sendDigits``, rings back the caller and runs confirmKey checks;
``winner`` returns the first leg to answer (and confirm). ``dial_music`` plays
a ``dialMusic`` document to the caller as early media until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.outbound import LegState, OutboundLeg
from callplane.markup.verbs import Dial, DialNumber, DialTarget, DialUser
from callplane.media.bridge import Bridge
from callplane.rtp.errors import RtpError
from callplane.verbs import dial_confirm
from callplane.verbs.dial_digits import send_digits
from callplane.verbs.dial_events import DialEvents
from callplane.verbs.dial_sounds import fetch_sound

REAL_RINGBACK = "real"  # dialMusic="real": relay the callee's early media


def drop(call: Call, leg: OutboundLeg, lost: bool) -> None:
    """Stop a leg that did not win: CANCEL it ringing, BYE it answered (two answered at once)."""
    cause = causes.LOST_RACE if lost else causes.NO_ANSWER if leg.heard else causes.DIAL_TIMEOUT
    if leg.answered:
        call.services.spawn(leg.hangup(cause))
    else:
        leg.give_up(cause)


async def dial_music(call: Call, verb: Dial) -> None:
    """``dialMusic`` as a URL: its Play/Speak/Wait, over and over, as early media."""
    if not verb.dial_music or verb.dial_music.lower() == REAL_RINGBACK:
        return
    if not await call.early_media():
        return
    sound = await fetch_sound(call, verb.dial_music, "dialMusic")
    if sound.size:
        await call.media.play(sound, 0)


class Race:
    """The B legs racing to answer: wakes the Dial on every change, rings back the caller
    (180, or with ``dialMusic="real"`` the callee's early media), sends ``sendDigits``,
    reports callbackUrl events and runs confirmKey checks."""

    def __init__(self, call: Call, verb: Dial, legs: dict[OutboundLeg, DialTarget]) -> None:
        self.call = call
        self.verb = verb
        self.legs = legs
        positions = {leg: verb.targets.index(target) + 1 for leg, target in legs.items()}
        self.events = DialEvents(call, verb, positions)
        self.event = asyncio.Event()
        self.seen: dict[OutboundLeg, LegState] = {}
        self.digits_sent: set[OutboundLeg] = set()
        self.confirming: dict[OutboundLeg, asyncio.Task[bool]] = {}
        self.refused: set[OutboundLeg] = set()
        self.ringing_sent = False
        self.early_bridge: asyncio.Task[Bridge | None] | None = None

    def changed(self) -> None:
        self.event.set()
        for leg in self.legs:
            self._report(leg)
            self._send_digits(leg)
        self._ring_back()

    def _report(self, leg: OutboundLeg) -> None:
        if self.seen.get(leg) is leg.state:
            return
        self.seen[leg] = leg.state
        if leg.state is LegState.ANSWERED:
            self.events.answer(leg)
        elif leg.state is LegState.ENDED:
            self.events.hangup(leg)

    def _send_digits(self, leg: OutboundLeg) -> None:
        target = self.legs[leg]
        if not isinstance(target, DialNumber | DialUser) or not target.send_digits:
            return
        early = target.send_on_preanswer and leg.early_media and not leg.ended.is_set()
        if leg in self.digits_sent or leg.rtp is None or not (leg.answered or early):
            return
        self.digits_sent.add(leg)
        self.call.services.spawn(_send_digits(self.call, leg, target.send_digits))

    def _ring_back(self) -> None:
        call = self.call
        if call.ended:
            return
        real = self.verb.dial_music.lower() == REAL_RINGBACK
        early = next((leg for leg in self.legs if leg.early_media and not leg.answered), None)
        if real and early is not None and self.early_bridge is None:
            self.early_bridge = asyncio.ensure_future(_relay_early_media(call, early))
            return
        if self.ringing_sent or call.answered or call.leg.media is not None:
            return
        if any(leg.rang for leg in self.legs):
            self.ringing_sent = True
            call.leg.respond(180, "Ringing")

    async def winner(self, timeout: float) -> OutboundLeg | None:
        """The first leg to answer (and confirm, with confirmKey); None if none did in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.event.clear()
            found = self._settle()
            if found is not None:
                return found
            racing = [leg for leg in self.legs if not leg.ended.is_set()]
            confirming = any(not task.done() for task in self.confirming.values())
            remaining = deadline - loop.time()
            if not racing or (remaining <= 0 and not confirming):
                return None
            if remaining <= 0:  # out of time: only the legs being confirmed go on
                for leg in racing:
                    if not leg.answered:
                        drop(self.call, leg, lost=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), remaining if remaining > 0 else None)

    def _settle(self) -> OutboundLeg | None:
        for leg in self.legs:
            if not leg.answered or leg in self.refused:
                continue
            if not dial_confirm.wanted(self.verb):
                return leg
            task = self.confirming.get(leg)
            if task is None:
                task = asyncio.ensure_future(dial_confirm.confirm(self.call, self.verb, leg))
                task.add_done_callback(lambda _: self.event.set())
                self.confirming[leg] = task
            elif task.done():
                if not task.cancelled() and task.result():
                    return leg
                self.call.note(f"Dial: {leg.destination.uri} did not confirm; hung up")
                self.refused.add(leg)
                self.call.services.spawn(leg.hangup(causes.NO_ANSWER, causes.SOURCE_CALLEE))
        return None

    async def close(self) -> None:
        """Stop what the race started: confirmations still running, the early-media relay."""
        tasks = [task for task in self.confirming.values() if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.early_bridge is not None:
            self.early_bridge.cancel()
            results = await asyncio.gather(self.early_bridge, return_exceptions=True)
            if isinstance(results[0], Bridge):
                await results[0].stop()


async def _relay_early_media(call: Call, leg: OutboundLeg) -> Bridge | None:
    """``dialMusic="real"``: the caller hears the callee's 183 media (ringback, announcements)."""
    if leg.rtp is None or not await call.early_media():
        return None
    bridge = Bridge(call.media, leg.rtp)
    bridge.start()
    call.note(f"Dial: relaying early media of {leg.destination.uri}")
    return bridge


async def _send_digits(call: Call, leg: OutboundLeg, digits: str) -> None:
    assert leg.rtp is not None
    try:
        await send_digits(leg.rtp, digits)
    except RtpError as exc:
        call.note(f"Dial: sendDigits to {leg.destination.uri} failed: {exc}", "error")
