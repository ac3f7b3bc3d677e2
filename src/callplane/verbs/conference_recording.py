"""Recording a conference room: its whole mix (``Room.taps``) from start to ``save()``.

Used by ``<Conference record>`` (``verbs/conference.py``) and by the REST API's
``POST /Conference/{name}/Record/`` (``control/conference.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from callplane.calls.call import new_call_uuid
from callplane.calls.services import CallServices
from callplane.media.conference import Room
from callplane.media.pcm import Pcm, duration_ms
from callplane.media.recorder import mp3_available, write_audio
from callplane.store.models import Recording


class RoomRecording:
    """Keeps the room's mix (while ``keep()`` holds) until ``save()`` writes and stores it."""

    def __init__(
        self,
        services: CallServices,
        room: Room,
        *,
        owner_uuid: str,
        wanted_format: str,
        recording_type: str = "call",
        keep: Callable[[], bool] = lambda: True,
    ) -> None:
        self.services = services
        self.room = room
        self.owner_uuid = owner_uuid
        self.recording_type = recording_type
        self.file_format = wanted_format if wanted_format == "wav" or mp3_available() else "wav"
        self.recording_id = new_call_uuid()
        self._keep = keep
        self._chunks: list[Pcm] = []
        room.taps.append(self._tap)

    @property
    def url(self) -> str:
        base = self.services.settings.public_http_url
        return (
            f"{base}/v1/Account/{self.room.auth_id}/Recording/"
            f"{self.recording_id}.{self.file_format}"
        )

    def _tap(self, frame: Pcm) -> None:
        if self._keep():
            self._chunks.append(frame)

    def stop(self) -> None:
        """Stop taking the room's audio (``save`` does it too)."""
        if self._tap in self.room.taps:
            self.room.taps.remove(self._tap)

    async def save(self) -> Recording:
        self.stop()
        folder = self.services.settings.recordings_dir / self.room.auth_id
        path = folder / f"{self.recording_id}.{self.file_format}"
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = []
        await asyncio.to_thread(write_audio, path, pcm, self.file_format)
        length = duration_ms(pcm)
        recording = Recording(
            recording_id=self.recording_id,
            auth_id=self.room.auth_id,
            call_uuid=self.owner_uuid,
            recording_format=self.file_format,
            path=str(path),
            recording_duration_ms=length,
            recording_start_ms=0,
            recording_end_ms=length,
            recording_type=self.recording_type,
            add_time=datetime.now(UTC),
        )
        await self.services.save_recording(recording)
        return recording
