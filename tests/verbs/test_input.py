"""GetInput and Record: what the caller typed or said, and what the action URL is told."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.markup.verbs import Dialect, GetInput, Record, Speak
from callplane.media.pcm import beep
from callplane.verbs import EXECUTORS
from callplane.verbs.base import ENDED, NEXT, NewDocument
from tests.verbs.fakes import FakeLeg, FakeServices, pcm_level, wav_samples

ACTION = "http://app.test/action"
CALLBACK = "http://app.test/recorded"
NEXT_DOCUMENT = "<Response><Speak>thanks</Speak></Response>"


async def test_get_input_stops_the_prompt_on_the_first_key_and_reports_the_digits(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    prompt = Speak("Enter your PIN then hash", loop=5)  # 15 frames if nobody typed
    leg.session.caller_sends(None, None, "1", None, "2", "#")

    outcome = await EXECUTORS[GetInput](call, GetInput(action=ACTION, prompts=(prompt,)))

    assert isinstance(outcome, NewDocument) and outcome.document.verbs == (Speak("thanks"),)
    assert 3 <= len(leg.session.played) <= 4  # stopped by the "1" at 60 ms, not 15 frames
    request = services.webhooks.one(ACTION)
    assert request.kind == "fetch" and request.method == "POST"
    assert request.params["Digits"] == "12"
    assert request.params["FinishedOnKey"] == "#" and request.params["InputType"] == "dtmf"
    assert request.params["CallUUID"] == call.uuid
    assert request.params["CallStatus"] == "in-progress"


async def test_get_input_skips_the_prompts_after_the_one_a_key_stopped(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    first, second = Speak("first prompt", loop=3), Speak("second prompt", loop=3)
    leg.session.caller_sends(None, "5", "#")

    await EXECUTORS[GetInput](call, GetInput(action=ACTION, prompts=(first, second)))

    assert [text for text, _, _ in services.tts.calls] == ["first prompt"]
    assert services.webhooks.one(ACTION).params["Digits"] == "5"


async def test_get_input_ends_at_num_digits_ignoring_invalid_keys(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    leg.session.caller_sends("9", "1", "9", "2", "3", "4")
    verb = GetInput(
        action=ACTION,
        redirect=False,
        num_digits=3,
        valid_digits="123",
        prompts=(Speak("menu", loop=10),),
    )

    assert await EXECUTORS[GetInput](call, verb) == NEXT  # redirect=false: the document is not run

    params = services.webhooks.one(ACTION).params
    assert (params["Digits"], params["FinishedOnKey"]) == ("123", "")


async def test_get_input_without_input_goes_on_after_the_execution_timeout(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()

    outcome = await EXECUTORS[GetInput](call, GetInput(action=ACTION, execution_timeout=4))

    assert outcome == NEXT
    assert services.webhooks.requests == []
    assert loop.time() - start == pytest.approx(4)
    assert leg.codes == [200]


async def test_get_input_with_action_on_empty_result_reports_the_bare_finish_key(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    asyncio.get_running_loop().call_later(1, leg.session.press, "#")

    verb = GetInput(action=ACTION, action_on_empty_result=True)
    assert isinstance(await EXECUTORS[GetInput](call, verb), NewDocument)

    params = services.webhooks.one(ACTION).params
    assert (params["Digits"], params["FinishedOnKey"]) == ("", "#")


async def test_record_saves_what_the_caller_said_and_reports_it(
    call: Call, leg: FakeLeg, services: FakeServices, tmp_path: Path
) -> None:
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    said = pcm_level(4000, 25)  # 500 ms of speech once the beep is over, then #
    leg.session.caller_sends(*[None] * (len(beep()) // 160 + 1))
    leg.session.caller_says(said)
    leg.session.caller_sends("#")
    verb = Record(action=ACTION, file_format="wav", callback_url=CALLBACK, timeout=5)

    outcome = await EXECUTORS[Record](call, verb)
    await services.settle()

    assert isinstance(outcome, NewDocument)
    beep_frames = -(-len(beep()) // 160)
    assert len(leg.session.played) >= beep_frames  # the beep, then silence while recording
    assert leg.session.played_pcm()[: len(beep())].any()
    (recording,) = services.recordings
    assert recording.call_uuid == call.uuid and recording.recording_format == "wav"
    kept = wav_samples(recording.path)
    assert recording.path.startswith(str(tmp_path / "recordings"))
    assert (kept == 4000).sum() == len(said)
    action = services.webhooks.one(ACTION)
    callback = services.webhooks.one(CALLBACK)
    assert (action.kind, callback.kind) == ("fetch", "notify")
    for params in (action.params, callback.params):
        assert params["RecordingID"] == recording.recording_id
        assert params["RecordingDurationMs"] == str(recording.recording_duration_ms)
        assert params["RecordUrl"].endswith(f"/Recording/{recording.recording_id}.wav")
    assert 480 <= recording.recording_duration_ms <= 560


@pytest.mark.parametrize(("dialect", "digits"), [(Dialect.TWIML, "#"), (Dialect.PLIVO, None)])
async def test_a_twiml_record_action_gets_the_finish_key_as_digits(
    call: Call, leg: FakeLeg, services: FakeServices, dialect: Dialect, digits: str | None
) -> None:
    call.dialect = dialect
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    leg.session.caller_says(pcm_level(4000, 10))
    leg.session.caller_sends("#")
    verb = Record(action=ACTION, file_format="wav", play_beep=False, finish_on_key="#*")

    assert isinstance(await EXECUTORS[Record](call, verb), NewDocument)

    assert services.webhooks.one(ACTION).params.get("Digits") == digits


async def test_a_twiml_record_ended_by_its_length_reports_empty_digits(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    call.dialect = Dialect.TWIML
    services.webhooks.answer(ACTION, NEXT_DOCUMENT)
    leg.session.caller_says(pcm_level(4000, 100))
    verb = Record(action=ACTION, file_format="wav", play_beep=False, max_length=1)

    assert isinstance(await EXECUTORS[Record](call, verb), NewDocument)

    assert services.webhooks.one(ACTION).params["Digits"] == ""


async def test_record_stops_after_max_length(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    leg.session.caller_says(pcm_level(4000, 200))  # 4 s of talking, max_length is 1 s
    verb = Record(file_format="wav", max_length=1, play_beep=False)

    assert await EXECUTORS[Record](call, verb) == NEXT  # no action URL: go on

    (recording,) = services.recordings
    assert recording.recording_duration_ms == 1000
    assert services.webhooks.requests == []


async def test_record_session_records_in_the_background_until_the_call_ends(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    verb = Record(record_session=True, file_format="wav", callback_url=CALLBACK)

    assert await EXECUTORS[Record](call, verb) == NEXT
    assert leg.codes == [200] and services.recordings == []
    leg.session.caller_says(pcm_level(2000, 10))
    await EXECUTORS[Speak](call, Speak("both directions", loop=4))
    await call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()

    (recording,) = services.recordings
    assert recording.recording_format == "wav" and recording.call_uuid == call.uuid
    assert 200 <= recording.recording_duration_ms <= 260  # the 12 frames Speak played
    callback = services.webhooks.one(CALLBACK)
    assert callback.kind == "notify"
    assert callback.params["RecordingID"] == recording.recording_id
    kept = wav_samples(recording.path)
    spoken = services.tts.sounds["both directions"][0]
    assert (kept == spoken + 2000).sum() >= 8 * 160  # what we said mixed with what we heard


async def test_record_cut_short_by_the_caller_hanging_up_is_still_saved_and_reported(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    leg.session.caller_says(pcm_level(4000, 100))
    verb = Record(action=ACTION, file_format="wav", play_beep=False, callback_url=CALLBACK)
    call.task = asyncio.ensure_future(EXECUTORS[Record](call, verb))  # type: ignore[assignment]
    asyncio.get_running_loop().call_later(0.5, call.remote_hangup)

    with pytest.raises(asyncio.CancelledError):
        await call.task
    await services.settle()

    assert call.record.hangup_source == causes.SOURCE_CALLER
    (recording,) = services.recordings
    assert 460 <= recording.recording_duration_ms <= 540
    assert services.webhooks.one(CALLBACK).params["RecordingID"] == recording.recording_id
    assert services.webhooks.to(ACTION) == []  # the call is gone: no action URL


async def test_get_input_on_a_call_that_cannot_answer_ends(call: Call, leg: FakeLeg) -> None:
    leg.no_common_codec = True

    assert await EXECUTORS[GetInput](call, GetInput(action=ACTION)) == ENDED
    assert leg.codes == [488]
