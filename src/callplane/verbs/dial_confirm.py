"""``confirmSound`` / ``confirmKey``: the callee accepts the call with a key before it is bridged.

The answered B leg hears the confirmSound document once; the first key it
presses within ``confirmTimeout`` seconds of answering decides: the
confirmKey connects, any other key (or none, or hanging up) refuses. Without
a confirmKey the sound is only played, then the leg connects.
"""

from __future__ import annotations

import asyncio
from typing import Any

from callplane.calls.call import Call
from callplane.calls.outbound import OutboundLeg
from callplane.markup.verbs import Dial
from callplane.media.call_media import frames_of
from callplane.verbs.dial_sounds import NO_AUDIO, fetch_sound


def wanted(verb: Dial) -> bool:
    return bool(verb.confirm_key or verb.confirm_sound)


async def confirm(call: Call, verb: Dial, leg: OutboundLeg) -> bool:
    """Ask the callee of ``leg`` (answered) to confirm; True if it may be bridged."""
    session = leg.rtp
    if session is None:
        return not verb.confirm_key
    keys: asyncio.Queue[str] = asyncio.Queue()
    session.on_dtmf = keys.put_nowait
    waiting: list[asyncio.Future[Any]] = []
    try:
        sound = NO_AUDIO
        if verb.confirm_sound:
            sound = await fetch_sound(call, verb.confirm_sound, "confirmSound")
        playing = asyncio.ensure_future(session.play(frames_of(sound, 1)))
        ended = asyncio.ensure_future(leg.ended.wait())
        decided = asyncio.ensure_future(keys.get() if verb.confirm_key else playing)
        waiting += [playing, ended, decided]
        done, _ = await asyncio.wait(
            {ended, decided}, timeout=verb.confirm_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if decided not in done or leg.ended.is_set():
            return False
        return not verb.confirm_key or decided.result() == verb.confirm_key
    finally:
        session.on_dtmf = None
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
