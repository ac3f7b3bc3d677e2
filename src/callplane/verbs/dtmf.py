"""DTMF: send digits to the caller as RFC 4733 events (``async`` goes on at once)."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Dtmf
from callplane.rtp.errors import RtpError
from callplane.verbs.base import ENDED, NEXT, Outcome


async def run(call: Call, verb: Dtmf) -> Outcome:
    if not await call.media_ready():
        return ENDED
    if verb.async_:
        call.services.spawn(_send(call, verb.digits))
    else:
        await _send(call, verb.digits)
    return NEXT


async def _send(call: Call, digits: str) -> None:
    try:
        await call.media.send_digits(digits.replace("w", "").replace("W", ""))
    except RtpError as exc:
        call.note(f"DTMF not sent: {exc}", "error")
