"""Sounds of a Dial: ``dialMusic`` for the caller while B legs ring, ``confirmSound`` for callees.

Both URLs return a document (fetched with POST, as Plivo does) of which only
Play, Speak and Wait count; every other verb is ignored. The document is
rendered into one stretch of audio (its relative ``<Play>`` URLs resolved against
the sound document's own URL): each verb once (``loop`` 0 counts as once,
the caller of ``render`` decides about repeating), a Wait as silence.
A URL that fails, or a sound that cannot be made, is noted and leaves silence.
"""

from __future__ import annotations

import numpy as np

from callplane.calls.call import Call
from callplane.calls.documents import parse_fetched
from callplane.errors import MarkupError, WebhookError
from callplane.markup.verbs import Play, Speak, Verb, Wait
from callplane.media.errors import MediaError
from callplane.media.pcm import SAMPLE_RATE, Pcm

NO_AUDIO = np.zeros(0, np.int16)


async def fetch_sound(call: Call, url: str, what: str) -> Pcm:
    """The audio of the document at ``url`` (empty when it has none or failed)."""
    try:
        response = await call.services.webhooks.fetch(
            url,
            "POST",
            call.action_params({}),
            call.route.account.auth_token,
            reach=call.reach,
            timeout=call.services.settings.answer_timeout,
        )
        document = await parse_fetched(response.body, response.content_type, base_url=response.url)
        parts = [await _render(call, verb) for verb in document.verbs]
    except (WebhookError, MarkupError, MediaError) as exc:
        call.note(f"Dial {what}: {exc}", "error")
        return NO_AUDIO
    audio = [part for part in parts if part.size]
    return np.concatenate(audio) if audio else NO_AUDIO


async def _render(call: Call, verb: Verb) -> Pcm:
    if isinstance(verb, Play):
        return np.tile(
            await call.services.audio.fetch(verb.url, reach=call.reach), max(verb.loop, 1)
        )
    if isinstance(verb, Speak):
        pcm = await call.services.tts.synthesize(verb.text, verb.voice, verb.language)
        return np.tile(pcm, max(verb.loop, 1))
    if isinstance(verb, Wait):
        return np.zeros(verb.length * SAMPLE_RATE, np.int16)
    return NO_AUDIO
