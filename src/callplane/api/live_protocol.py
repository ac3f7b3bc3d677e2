"""What the REST API needs from the running calls (implemented by ``control/live.py``)
and conferences (``control/conference.py``).

Every method takes the caller's ``auth_id``: a call of another account is
"not found" (``None``/``False``), never "forbidden", so uuids do not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callplane.calls.call import ForkedStream
from callplane.calls.conference_views import ConferenceView, MemberIds, RecordingStarted
from callplane.markup.verbs import Document, Stream
from callplane.store.models import CallRecord


class LiveCalls(Protocol):
    def list(self, auth_id: str) -> list[CallRecord]:
        """Snapshots of the account's live calls, newest first."""
        ...

    def get(self, auth_id: str, call_uuid: str) -> CallRecord | None: ...

    async def hangup(self, auth_id: str, call_uuid: str) -> bool:
        """BYE (answered) or a refusal (ringing); False if no such live call."""
        ...

    async def transfer(self, auth_id: str, call_uuid: str, url: str, method: str) -> bool:
        """Stop the current document and run the one fetched from ``url``."""
        ...

    async def transfer_inline(self, auth_id: str, call_uuid: str, document: Document) -> bool:
        """Stop the current document and run ``document`` (Twilio's ``Twiml``)."""
        ...

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
        """Play the audio URLs on the call (mixed over its current audio when ``mix``)."""
        ...

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
    ) -> bool: ...

    async def stop_audio(self, auth_id: str, call_uuid: str) -> bool:
        """Stop what ``play``/``speak`` started."""
        ...

    async def send_digits(self, auth_id: str, call_uuid: str, digits: str) -> bool: ...

    async def start_stream(self, auth_id: str, call_uuid: str, verb: Stream) -> str | None:
        """Fork ``verb`` on the answered call; its stream id, or None if no such call.

        ValidationError when the call already runs the most streams it may."""
        ...

    def streams(self, auth_id: str, call_uuid: str) -> Sequence[ForkedStream] | None:
        """The call's streams started beside its document or through the API."""
        ...

    async def stop_streams(self, auth_id: str, call_uuid: str, stream_id: str | None) -> bool:
        """Stop one stream (or all of them); False if the call or the stream is unknown."""


class LiveConferences(Protocol):
    """The account's running conference rooms, by name.

    Member operations take member ids or ``"all"`` and answer the ids acted on:
    ``None`` when there is no such room, ``[]`` when none of the members is in it.
    """

    def names(self, auth_id: str) -> list[str]: ...

    def get(self, auth_id: str, name: str) -> ConferenceView | None: ...

    def rooms(self, auth_id: str) -> list[ConferenceView]:
        """The account's running rooms, then its recently closed ones (newest first)."""
        ...

    def end(self, auth_id: str, name: str) -> bool:
        """Send every member away (their calls go on); False if no such room."""
        ...

    def hangup(self, auth_id: str, name: str) -> bool:
        """End every member's call; False if no such room."""
        ...

    def hangup_all(self, auth_id: str) -> list[str]:
        """Hang up every room of the account; their names."""
        ...

    def mute(self, auth_id: str, name: str, ids: MemberIds, muted: bool) -> list[str] | None:
        """Others stop (``muted``) or start again hearing the members."""
        ...

    def deafen(self, auth_id: str, name: str, ids: MemberIds, deaf: bool) -> list[str] | None:
        """The members stop (``deaf``) or start again hearing the room."""
        ...

    async def hold(
        self, auth_id: str, name: str, ids: MemberIds, held: bool, music_url: str = ""
    ) -> list[str] | None:
        """Put the members on hold, hearing ``music_url`` looped (``MediaError`` if it
        fails) or silence, or take them off it."""
        ...

    def end_on_exit(self, auth_id: str, name: str, ids: MemberIds, ends: bool) -> list[str] | None:
        """Whether the room ends when the members leave."""
        ...

    def kick(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None:
        """The members leave the room; their calls go on with their documents."""
        ...

    def hangup_members(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None: ...

    async def play(self, auth_id: str, name: str, ids: MemberIds, url: str) -> list[str] | None:
        """Mix the audio at ``url`` into what the members hear (``MediaError`` if it fails)."""
        ...

    async def speak(
        self,
        auth_id: str,
        name: str,
        ids: MemberIds,
        text: str,
        *,
        voice: str,
        language: str,
    ) -> list[str] | None: ...

    async def stop_audio(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None:
        """Stop what ``play``/``speak`` started for the members."""
        ...

    def record(
        self,
        auth_id: str,
        name: str,
        *,
        file_format: str,
        callback_url: str = "",
        callback_method: str = "POST",
    ) -> RecordingStarted | None:
        """Record the room's mix until ``record_stop`` or the room closes."""
        ...

    async def record_stop(self, auth_id: str, name: str) -> bool:
        """Stop and store the room's recording; False if it is not being recorded."""
        ...
