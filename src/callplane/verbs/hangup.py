"""Hangup: end the call.

Plivo's ``<Hangup>`` as the first element refuses the call unanswered; the
Plivo compiler turns that case into a Reject, so here the call is answered
first when it is not yet (TwiML and VoXML ``Hangup``) and then hung up; after
early media (``PreAnswer``) an unanswered call is refused with the reason. With
``schedule`` the hangup happens that many seconds later while the following
verbs run.
"""

from __future__ import annotations

import asyncio

from callplane.calls.call import Call
from callplane.calls.causes import NORMAL_HANGUP, SOURCE_XML
from callplane.markup.verbs import Hangup
from callplane.reject_reasons import REJECT_SIP
from callplane.verbs.base import ENDED, NEXT, Outcome


async def run(call: Call, verb: Hangup) -> Outcome:
    if verb.schedule:
        call.services.spawn(_hang_up_later(call, verb.schedule))
        return NEXT
    if not call.answered and call.leg.media is not None:
        # Early media (PreAnswer) and still unanswered: hanging up refuses the call.
        reason = verb.reason if verb.reason in REJECT_SIP else "rejected"
        call.reject(reason, SOURCE_XML)
        return ENDED
    if not call.answered and not await call.answer():
        return ENDED
    await call.hangup(NORMAL_HANGUP, SOURCE_XML)
    return ENDED


async def _hang_up_later(call: Call, seconds: int) -> None:
    await asyncio.sleep(seconds)
    if not call.ended:
        call.note(f"scheduled hangup after {seconds} s")
        if call.task:
            call.task.cancel()
        await call.hangup(NORMAL_HANGUP, SOURCE_XML)
