"""Play: an audio URL (WAV, MP3...), cached by HTTP validators; a bad URL is skipped."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Play
from callplane.media.errors import MediaError
from callplane.verbs.base import ENDED, NEXT, Outcome


async def run(call: Call, verb: Play, *, until_digit: bool = False) -> Outcome:
    if not await call.media_ready():
        return ENDED
    try:
        pcm = await call.services.audio.fetch(verb.url, reach=call.reach)
    except MediaError as exc:
        call.note(f"Play skipped: {exc}", "error")
        return NEXT
    await call.media.play(pcm, verb.loop, until_digit=until_digit)
    return NEXT
