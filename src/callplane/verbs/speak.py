"""Speak / Say: text to speech, played ``loop`` times (0 = until the call ends)."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Speak
from callplane.media.errors import TtsError
from callplane.verbs.base import ENDED, NEXT, Outcome


async def run(call: Call, verb: Speak, *, until_digit: bool = False) -> Outcome:
    if not await call.media_ready():
        return ENDED
    try:
        pcm = await call.services.tts.synthesize(verb.text, verb.voice, verb.language)
    except TtsError as exc:
        call.note(f"Speak: {exc}", "error")
        return NEXT
    await call.media.play(pcm, verb.loop, until_digit=until_digit)
    return NEXT
