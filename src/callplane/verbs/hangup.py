"""Hangup: end the call.

Plivo's ``<Hangup>`` as the first element refuses the call unanswered; the
Plivo compiler turns that case into a Reject, so here the call is answered
first when it is not yet (TwiML and VoXML ``Hangup``) and then hung up.
"""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.calls.causes import NORMAL_HANGUP, SOURCE_XML
from callplane.markup.verbs import Hangup
from callplane.verbs.base import ENDED, Outcome


async def run(call: Call, verb: Hangup) -> Outcome:
    if verb.schedule:
        call.fail_unsupported("Hangup@schedule", "scheduled hangup needs answered-call media")
        return ENDED
    if not call.answered and not await call.answer():
        return ENDED
    await call.hangup(NORMAL_HANGUP, SOURCE_XML)
    return ENDED
