"""Reject: refuse the call before answering, with the SIP code of the reason.

On a call that is already answered (a Reject reached through Redirect), the
call is hung up normally, as Twilio does.
"""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.calls.causes import NORMAL_HANGUP, SOURCE_XML
from callplane.markup.verbs import Reject
from callplane.verbs.base import ENDED, Outcome


async def run(call: Call, verb: Reject) -> Outcome:
    if call.answered:
        await call.hangup(NORMAL_HANGUP, SOURCE_XML)
    else:
        call.reject(str(verb.reason), SOURCE_XML)
    return ENDED
