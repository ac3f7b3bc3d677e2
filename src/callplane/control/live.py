"""Live-call control for the REST API: list, hang up, transfer, play, speak, send digits.

Implements ``callplane.api.live_protocol.LiveCalls`` over the calls this
process is running. A call is visible to its own account and to that
account's parent; anyone else gets "not found".
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from callplane.calls import causes
from callplane.calls.call import Call, ForkedStream
from callplane.control.services import Services
from callplane.errors import ValidationError
from callplane.markup.verbs import Document, Stream
from callplane.media.call_media import frames_of
from callplane.media.errors import MediaError
from callplane.rtp.errors import RtpError
from callplane.store.models import CallRecord
from callplane.verbs import stream


class LiveCallControl:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _find(self, auth_id: str, call_uuid: str) -> Call | None:
        call = self.services.live.get(call_uuid)
        if call is None or call.ended:
            return None
        account = call.route.account
        return call if auth_id in (account.auth_id, account.parent_auth_id) else None

    def list(self, auth_id: str) -> list[CallRecord]:
        calls = [c for c in self.services.live.values() if self._find(auth_id, c.uuid)]
        calls.sort(key=lambda c: c.record.initiation_time or 0, reverse=True)
        return [copy.copy(c.record) for c in calls]

    def get(self, auth_id: str, call_uuid: str) -> CallRecord | None:
        call = self._find(auth_id, call_uuid)
        return copy.copy(call.record) if call else None

    async def hangup(self, auth_id: str, call_uuid: str) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None:
            return False
        hang_up(call)
        return True

    async def transfer(self, auth_id: str, call_uuid: str, url: str, method: str) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None:
            return False
        call.transfer(url, method)
        return True

    async def transfer_inline(self, auth_id: str, call_uuid: str, document: Document) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None:
            return False
        call.transfer_inline(document)
        return True

    async def play(
        self,
        auth_id: str,
        call_uuid: str,
        urls: Sequence[str],
        *,
        loop: bool,
        length: int | None,
        mix: bool,
    ) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None or call.leg.media is None:
            return False
        clips = []
        for url in urls:
            try:
                clips.append(await self.services.audio.fetch(url, reach=call.reach))
            except MediaError as exc:
                call.note(f"API play skipped {url}: {exc}", "error")
        if not clips:
            return False
        overlay(call, np.concatenate(clips), loop=loop, length=length, mix=mix)
        return True

    async def speak(
        self,
        auth_id: str,
        call_uuid: str,
        text: str,
        *,
        voice: str,
        language: str,
        loop: bool,
        mix: bool,
    ) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None or call.leg.media is None:
            return False
        try:
            pcm = await self.services.tts.synthesize(text, voice, language)
        except MediaError as exc:
            call.note(f"API speak failed: {exc}", "error")
            return False
        overlay(call, pcm, loop=loop, length=None, mix=mix)
        return True

    async def stop_audio(self, auth_id: str, call_uuid: str) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None or call.leg.media is None:
            return False
        await call.leg.media.stop_overlay()
        return True

    async def send_digits(self, auth_id: str, call_uuid: str, digits: str) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None or call.leg.media is None:
            return False
        try:
            await call.leg.media.send_digits(digits)
        except RtpError as exc:
            call.note(f"API digits not sent: {exc}", "error")
            return False
        return True

    async def start_stream(self, auth_id: str, call_uuid: str, verb: Stream) -> str | None:
        call = self._find(auth_id, call_uuid)
        if call is None or not call.answered:
            return None
        forked = stream.fork(call, verb)
        if forked is None:
            raise ValidationError("service_url", f"{stream.MAX_FORKS} streams already run")
        call.note(f"stream to {verb.url} started through the REST API")
        return forked.stream_id

    def streams(self, auth_id: str, call_uuid: str) -> Sequence[ForkedStream] | None:
        call = self._find(auth_id, call_uuid)
        return tuple(call.streams.values()) if call is not None else None

    async def stop_streams(self, auth_id: str, call_uuid: str, stream_id: str | None) -> bool:
        call = self._find(auth_id, call_uuid)
        if call is None or (stream_id is not None and stream_id not in call.streams):
            return False
        chosen = [call.streams[stream_id]] if stream_id else list(call.streams.values())
        await stream.stop_forks(chosen)
        return True


def hang_up(call: Call) -> None:
    """End ``call`` for the REST API: stop its verbs, then BYE (answered) or refuse it."""
    call.note("hung up through the REST API")
    if call.task is not None:
        call.task.cancel()
    if call.answered:  # answer the API at once; the BYE goes on in the background
        call.services.spawn(call.hangup(causes.API_HANGUP, causes.SOURCE_API))
    else:
        call.refuse(603, "Decline", causes.API_CANCEL, causes.SOURCE_API)


def overlay(call: Call, pcm: np.ndarray, *, loop: bool, length: int | None, mix: bool) -> None:
    """Play ``pcm`` on the call over (``mix``) or instead of what it hears now."""
    assert call.leg.media is not None
    stream = frames_of(pcm, 0 if loop else 1)
    if length:
        stream = (frame for _, frame in zip(range(length * 50), stream, strict=False))
    call.leg.media.overlay(stream, mixed=mix)
