"""Record: the caller's audio to WAV or MP3, until silence, ``maxLength`` or ``finishOnKey``.

With ``recordSession`` both directions of the rest of the call are recorded in
the background and reported to ``callbackUrl`` when the call ends; the verbs
after it run at once. ``startOnDialAnswer`` does the same from the moment the
next Dial's B leg answers (nothing is recorded if no Dial connects).
Otherwise the file is kept under the data directory and listed by the
Recording API; the action URL and ``callbackUrl`` get RecordUrl, RecordingID, RecordingDuration
(+Ms), RecordingStartMs and RecordingEndMs (and Twilio's RecordingUrl,
RecordingSid); in a TwiML document the action URL also gets Twilio's Digits, the
finishOnKey key that ended the recording (``""`` if none did). A recording cut
short by the caller hanging up is still saved and reported to ``callbackUrl``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import numpy as np

from callplane.calls.call import Call, new_call_uuid
from callplane.calls.session_recording import SessionRecording
from callplane.markup.verbs import Dialect, Record
from callplane.media.errors import RecordingError
from callplane.media.recorder import Recorder, RecordingResult, StopReason, mp3_available
from callplane.store.models import Recording
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome


async def run(call: Call, verb: Record) -> Outcome:
    if verb.start_on_dial_answer:
        call.dial_answer_hooks.append(lambda: start_session_recording(call, verb))
        return NEXT
    if not await call.media_ready():
        return ENDED
    if verb.record_session:
        start_session_recording(call, verb)
        return NEXT
    recorder = make_recorder(call, verb)
    if recorder.prompt.size:
        await call.media.play(recorder.prompt)
    call.media.clear_digits()
    finished_on = ""
    try:
        finished_on = await capture(call, verb, recorder)
    finally:
        recording = await save(call, recorder)
        params = recording_params(call, recording)
        if verb.callback_url:
            call.services.spawn(
                call.services.webhooks.notify(
                    verb.callback_url,
                    verb.callback_method,
                    call.action_params(params),
                    call.route.account.auth_token,
                    auth_id=call.route.account.auth_id,
                    reach=call.reach,
                )
            )
    if call.ended or not verb.action:
        return ENDED if call.ended else NEXT
    if call.app_dialect is Dialect.TWIML:
        params["Digits"] = finished_on
    if not verb.redirect:
        await call.notify_action(verb.action, verb.method, params)
        return NEXT
    document = await call.fetch_action(verb.action, verb.method, params)
    return ENDED if document is None else NewDocument(document)


def start_session_recording(call: Call, verb: Record) -> None:
    """Record both directions from now until the call ends; report to ``callbackUrl``."""
    file_format = verb.file_format if verb.file_format == "wav" or mp3_available() else "wav"
    folder = call.services.settings.recordings_dir / call.route.account.auth_id
    loop = asyncio.get_running_loop()
    session = SessionRecording(
        folder / f"{new_call_uuid()}.{file_format}", file_format, verb.max_length, loop.time
    )
    call.media.listeners.append(session.heard)
    call.media.sent_listeners.append(session.sent)
    call.note(f"recording the session as {session.path.stem}")

    async def finish() -> None:
        session.stop()
        await asyncio.to_thread(session.write)
        recording = Recording(
            recording_id=session.path.stem,
            auth_id=call.route.account.auth_id,
            call_uuid=call.uuid,
            recording_format=file_format,
            path=str(session.path),
            recording_duration_ms=session.duration_ms,
            recording_start_ms=0,
            recording_end_ms=session.duration_ms,
            add_time=datetime.now(UTC),
        )
        await call.services.save_recording(recording)
        if verb.callback_url:
            await call.services.webhooks.notify(
                verb.callback_url,
                verb.callback_method,
                call.action_params(recording_params(call, recording)),
                call.route.account.auth_token,
                auth_id=call.route.account.auth_id,
                reach=call.reach,
            )

    call.end_hooks.append(finish)


def make_recorder(call: Call, verb: Record) -> Recorder:
    folder = call.services.settings.recordings_dir / call.route.account.auth_id
    folder.mkdir(parents=True, exist_ok=True)
    recording_id = new_call_uuid()
    options: dict[str, Any] = {
        "max_length": verb.max_length,
        "silence_timeout": verb.timeout,
        "play_beep": verb.play_beep,
        "trim_silence": verb.trim_silence,
    }
    try:
        return Recorder(folder / f"{recording_id}.{verb.file_format}", verb.file_format, **options)
    except RecordingError as exc:
        call.note(f"Record: {exc}; recording WAV instead", "error")
        return Recorder(folder / f"{recording_id}.wav", "wav", **options)


async def capture(call: Call, verb: Record, recorder: Recorder) -> str:
    """Record until silence, the length limit or a finish key; the key, or ``""``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopped = asyncio.Event()

    def hear(frame: np.ndarray) -> None:
        if recorder.feed(frame, int((loop.time() - started) * 1000)):
            stopped.set()

    async def finish_key() -> str:
        while (key := await call.media.digits.get()) not in verb.finish_on_key:
            pass
        recorder.stop(StopReason.FINISH_KEY)
        return key

    waiters: list[asyncio.Future[Any]] = [
        asyncio.ensure_future(stopped.wait()),
        asyncio.ensure_future(call.media.silence(verb.max_length + 1)),
    ]
    key: asyncio.Future[str] | None = None
    if verb.finish_on_key:
        key = asyncio.ensure_future(finish_key())
        waiters.append(key)
    with call.media.listening(hear):
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
    if key is None or key.cancelled() or key.exception() is not None:
        return ""
    return key.result()


async def save(call: Call, recorder: Recorder) -> Recording:
    recorder.stop()
    task = asyncio.ensure_future(asyncio.to_thread(recorder.finish))
    with contextlib.suppress(asyncio.CancelledError):  # the caller hung up: still save it
        await asyncio.shield(task)
    result: RecordingResult = await task
    recording = Recording(
        recording_id=result.path.stem,
        auth_id=call.route.account.auth_id,
        call_uuid=call.uuid,
        recording_format=result.file_format,
        path=str(result.path),
        recording_duration_ms=result.duration_ms,
        recording_start_ms=result.start_ms,
        recording_end_ms=result.end_ms,
        add_time=datetime.now(UTC),
    )
    await call.services.save_recording(recording)
    call.note(
        f"recorded {result.duration_ms} ms ({result.stop_reason}) as {recording.recording_id}"
    )
    return recording


def recording_params(call: Call, recording: Recording) -> dict[str, str]:
    base = call.services.settings.public_http_url
    url = (
        f"{base}/v1/Account/{recording.auth_id}/Recording/{recording.recording_id}"
        f".{recording.recording_format}"
    )
    return {
        "RecordUrl": url,
        "RecordingUrl": url,
        "RecordingID": recording.recording_id,
        "RecordingSid": recording.recording_id,
        "RecordingDuration": str(round(recording.recording_duration_ms / 1000)),
        "RecordingDurationMs": str(recording.recording_duration_ms),
        "RecordingStartMs": str(recording.recording_start_ms),
        "RecordingEndMs": str(recording.recording_end_ms),
    }
