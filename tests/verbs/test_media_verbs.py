"""Speak, Play, Wait, DTMF and PreAnswer: what the caller hears, and how the call is answered."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from callplane.calls.call import Call
from callplane.markup.verbs import Dialect, Dtmf, Play, PreAnswer, Speak, Wait
from callplane.media.pcm import FRAME_SAMPLES, tone
from callplane.verbs import EXECUTORS
from callplane.verbs.base import ENDED, NEXT, EarlyMedia
from tests.verbs.fakes import FRAME_SECONDS, FakeLeg, FakeServices, pcm_level

SONG = "http://media.test/song.wav"


async def test_speak_answers_and_plays_the_synthesized_text_loop_times(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    verb = Speak("Welcome", voice="MAN", language="fr-FR", loop=2)

    assert await EXECUTORS[Speak](call, verb) == NEXT

    assert leg.codes == [200]
    assert services.tts.calls == [("Welcome", "MAN", "fr-FR")]
    spoken = services.tts.sounds["Welcome"]
    np.testing.assert_array_equal(leg.session.played_pcm(), np.tile(spoken, 2))


async def test_speak_in_early_media_sends_183_and_never_answers(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    call.early = True  # inside PreAnswer

    assert await EXECUTORS[Speak](call, Speak("Please hold")) == NEXT

    assert leg.codes == [183] and not call.answered
    np.testing.assert_array_equal(leg.session.played_pcm(), services.tts.sounds["Please hold"])


async def test_speak_that_cannot_answer_ends_the_call(call: Call, leg: FakeLeg) -> None:
    leg.no_common_codec = True

    assert await EXECUTORS[Speak](call, Speak("nobody hears this")) == ENDED

    assert leg.codes == [488] and call.ended


async def test_play_plays_the_fetched_audio_loop_times(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.audio.files[SONG] = pcm_level(500, 2)

    assert await EXECUTORS[Play](call, Play(SONG, loop=3)) == NEXT

    assert leg.codes == [200] and services.audio.fetched == [SONG]
    played = leg.session.played
    assert len(played) == 6 and all((frame == 500).all() for frame in played)


async def test_play_of_a_bad_url_is_skipped_and_noted(call: Call, leg: FakeLeg) -> None:
    assert await EXECUTORS[Play](call, Play("http://media.test/missing.wav")) == NEXT

    assert leg.codes == [200] and leg.session.played == []
    assert "Play skipped" in (call.record.error or "")
    assert not call.ended


async def test_wait_plays_length_seconds_of_silence(call: Call, leg: FakeLeg) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()

    assert await EXECUTORS[Wait](call, Wait(length=2)) == NEXT

    assert leg.codes == [200]
    assert len(leg.session.played) == 2 / FRAME_SECONDS
    assert not leg.session.played_pcm().any()
    assert loop.time() - start == pytest.approx(2, abs=FRAME_SECONDS)


async def test_a_wait_cancelled_by_a_hangup_stops_its_silence(call: Call, leg: FakeLeg) -> None:
    """The call's hangup cancels the verb: its silence must stop with it, or it would
    play on (on a real session: fail unseen once the session closes)."""
    waiting = asyncio.ensure_future(EXECUTORS[Wait](call, Wait(length=10)))
    await asyncio.sleep(0.5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not leg.session.playing
    assert len(leg.session.played) < 1 / FRAME_SECONDS


async def test_wait_with_silence_ends_once_the_caller_is_quiet(call: Call, leg: FakeLeg) -> None:
    talking = pcm_level(3000, 20)
    leg.session.caller_says(talking)  # 20 frames of speech, then nothing (silence)
    leg.session.caller_sends(*[np.zeros(FRAME_SAMPLES, np.int16)] * 30)

    assert await EXECUTORS[Wait](call, Wait(length=10, silence=True, min_silence=0.2)) == NEXT

    # 20 frames of talk, then 10 quiet frames (200 ms) end it: far short of 10 s (500 frames)
    assert 29 <= len(leg.session.played) <= 32


async def test_wait_with_beep_ends_on_a_steady_tone(call: Call, leg: FakeLeg) -> None:
    leg.session.caller_says(np.zeros(5 * FRAME_SAMPLES, np.int16))
    leg.session.caller_says(tone(1000.0, 1.0))

    assert await EXECUTORS[Wait](call, Wait(length=10, beep=True)) == NEXT

    assert 14 <= len(leg.session.played) <= 18  # 5 quiet frames + about 10 of tone


async def test_dtmf_sends_the_digits_without_waits(call: Call, leg: FakeLeg) -> None:
    assert await EXECUTORS[Dtmf](call, Dtmf("1w2W#9", async_=False)) == NEXT

    assert leg.codes == [200]
    assert leg.session.digits_sent == "12#9"


async def test_async_dtmf_goes_on_at_once_and_sends_in_the_background(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    assert await EXECUTORS[Dtmf](call, Dtmf("42")) == NEXT
    assert leg.session.digits_sent == ""

    await services.settle()
    assert leg.session.digits_sent == "42"


async def test_dtmf_without_telephone_event_is_noted_not_fatal(call: Call, leg: FakeLeg) -> None:
    leg.session.telephone_event = False

    assert await EXECUTORS[Dtmf](call, Dtmf("1", async_=False)) == NEXT

    assert "DTMF not sent" in (call.record.error or "") and not call.ended


async def test_pre_answer_sends_183_and_hands_its_verbs_back_unanswered(
    call: Call, leg: FakeLeg
) -> None:
    nested = (Speak("early"), Play(SONG))

    outcome = await EXECUTORS[PreAnswer](call, PreAnswer(nested))

    assert outcome == EarlyMedia(outcome.document) and isinstance(outcome, EarlyMedia)
    assert outcome.document.verbs == nested and outcome.document.dialect is Dialect.PLIVO
    assert leg.codes == [183] and not call.answered


async def test_pre_answer_on_an_answered_call_sends_nothing_more(call: Call, leg: FakeLeg) -> None:
    assert await call.answer()
    call.dialect = Dialect.TWIML

    outcome = await EXECUTORS[PreAnswer](call, PreAnswer((Speak("x"),)))

    assert isinstance(outcome, EarlyMedia) and outcome.document.dialect is Dialect.TWIML
    assert leg.codes == [200]
