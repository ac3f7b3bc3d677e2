"""Conference control for the REST API: read rooms, mute, deafen, kick or hang up
members, play or speak to them, record the room.

Implements ``callplane.api.live_protocol.LiveConferences`` over the rooms of this
process (``media/conference.py``), which ``<Conference>`` members join
(``verbs/conference.py``). An account sees only its own rooms: a name is "not
found" (``None``/``False``) otherwise. Operations on members take ids or
``"all"`` and answer the ids they acted on (none: no such member).

Mute, deaf and hold are the member's flags in the mixer; a kicked member leaves
the room and their call goes on (the action URL, else the next verb); a hung-up
member's call ends. Ending a room (Twilio's ``Status=completed``) kicks everyone.
Recently closed rooms stay readable (``rooms``) with why they ended. Play and
Speak go over what the member hears as the call's overlay, the same one the
live-call Play/Speak API uses. A recording keeps the room's mix
until it is stopped or the room closes, then is stored (``recording_type``
``conference``) and reported to its ``callback_url``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from callplane.calls.call import Call
from callplane.calls.conference_views import (
    ALL_MEMBERS,
    ConferenceView,
    MemberIds,
    MemberView,
    RecordingStarted,
)
from callplane.calls.services import CallServices
from callplane.control.live import hang_up, overlay
from callplane.media.conference import Member, Room
from callplane.media.pcm import Pcm
from callplane.store.models import Recording
from callplane.verbs.conference_recording import RoomRecording

log = logging.getLogger("callplane.control")


class ConferenceServices(CallServices, Protocol):
    """What conference control needs: the calls' services and the live-call index."""

    @property
    def live(self) -> Mapping[str, Call]: ...

    @property
    def guests(self) -> Mapping[str, Call]:
        """Members other cluster nodes joined to this node's rooms, by call uuid."""


@dataclass(frozen=True, slots=True)
class _Callback:
    url: str
    method: str
    call: Call  # a member's call when recording started: the account, its token and reach


@dataclass(frozen=True, slots=True)
class _Running:
    recording: RoomRecording
    callback: _Callback | None
    on_close: Callable[[], None]  # in the room's ``closing`` hooks while it runs


class ConferenceControl:
    def __init__(self, services: ConferenceServices) -> None:
        self.services = services
        self._recordings: dict[Room, _Running] = {}

    # -- reading ------------------------------------------------------------------------

    def names(self, auth_id: str) -> list[str]:
        return sorted(room.name for room in self.services.conferences.of_account(auth_id))

    def get(self, auth_id: str, name: str) -> ConferenceView | None:
        room = self.services.conferences.find(auth_id, name)
        return None if room is None else self._view(room)

    def rooms(self, auth_id: str) -> list[ConferenceView]:
        """The account's running rooms, then its recently closed ones (newest first)."""
        conferences = self.services.conferences
        running = sorted(conferences.of_account(auth_id), key=lambda r: r.opened, reverse=True)
        return [self._view(room) for room in (*running, *conferences.closed_of(auth_id))]

    def _view(self, room: Room) -> ConferenceView:
        now = time.monotonic()
        closed = room.closed_at
        run = (closed - room.created).total_seconds() if closed else now - room.opened
        return ConferenceView(
            name=room.name,
            uuid=room.uuid,
            run_seconds=int(run),
            members=tuple(self._member_view(m, now) for m in room.members.values()),
            created=room.created,
            closed=closed,
            started=room.started,
            end_reason=room.end_reason,
            ending_call_uuid=room.ending_call_uuid,
        )

    def _call(self, call_uuid: str) -> Call | None:
        return self.services.live.get(call_uuid) or self.services.guests.get(call_uuid)

    def _member_view(self, member: Member, now: float) -> MemberView:
        call = self._call(member.call_uuid)
        record = call.record if call else None
        return MemberView(
            member_id=member.member_id,
            call_uuid=member.call_uuid,
            from_number=record.from_number if record else "",
            to_number=record.to_number if record else "",
            caller_name=record.caller_name if record else "",
            direction=record.call_direction if record else "",
            muted=member.muted,
            deaf=member.deaf,
            joined_seconds=int(now - member.joined),
            joined_at=member.joined_at,
            held=member.held,
            starts=member.starts,
            ends=member.ends,
        )

    # -- members ------------------------------------------------------------------------

    def _members(self, auth_id: str, name: str, ids: MemberIds) -> list[Member] | None:
        room = self.services.conferences.find(auth_id, name)
        if room is None:
            return None
        if ids == ALL_MEMBERS:
            return list(room.members.values())
        return [room.members[i] for i in dict.fromkeys(ids) if i in room.members]

    def _calls(self, members: list[Member]) -> list[tuple[Member, Call]]:
        found = [(m, self._call(m.call_uuid)) for m in members]
        return [(m, call) for m, call in found if call is not None and not call.ended]

    def mute(self, auth_id: str, name: str, ids: MemberIds, muted: bool) -> list[str] | None:
        """Others stop (``muted``) or start again hearing the members."""
        members = self._members(auth_id, name, ids)
        for member in members or ():
            member.muted = muted
        return None if members is None else [m.member_id for m in members]

    def deafen(self, auth_id: str, name: str, ids: MemberIds, deaf: bool) -> list[str] | None:
        """The members stop (``deaf``) or start again hearing the room."""
        members = self._members(auth_id, name, ids)
        for member in members or ():
            member.deaf = deaf
        return None if members is None else [m.member_id for m in members]

    def kick(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None:
        """The members leave the room; their calls go on."""
        members = self._members(auth_id, name, ids)
        for member in members or ():
            member.kicked = True
            member.ended("kicked")
        return None if members is None else [m.member_id for m in members]

    async def hold(
        self, auth_id: str, name: str, ids: MemberIds, held: bool, music_url: str = ""
    ) -> list[str] | None:
        """Put the members on hold (hearing ``music_url``'s audio, looped, or silence)
        or take them off it; ``MediaError`` if the music cannot be fetched."""
        members = self._members(auth_id, name, ids)
        targets = self._calls(members or [])
        if members is None or not targets:
            return None if members is None else []
        music = None
        if held and music_url:
            music = await self.services.audio.fetch(music_url, reach=targets[0][1].reach)
        for member, _ in targets:
            member.hold(held, music)
        return [m.member_id for m, _ in targets]

    def end_on_exit(self, auth_id: str, name: str, ids: MemberIds, ends: bool) -> list[str] | None:
        """Whether the room ends when the members leave (endConferenceOnExit)."""
        members = self._members(auth_id, name, ids)
        for member in members or ():
            member.ends = ends
        return None if members is None else [m.member_id for m in members]

    def hangup_members(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None:
        """The members' calls end."""
        members = self._members(auth_id, name, ids)
        if members is None:
            return None
        ended = self._calls(members)
        for _, call in ended:
            hang_up(call)
        return [m.member_id for m, _ in ended]

    async def play(self, auth_id: str, name: str, ids: MemberIds, url: str) -> list[str] | None:
        """Mix the audio at ``url`` into what the members hear; ``MediaError`` if unfetchable."""
        members = self._members(auth_id, name, ids)
        targets = self._calls(members or [])
        if members is None or not targets:
            return None if members is None else []
        pcm = await self.services.audio.fetch(url, reach=targets[0][1].reach)
        return self._overlay(targets, pcm)

    async def speak(
        self,
        auth_id: str,
        name: str,
        ids: MemberIds,
        text: str,
        *,
        voice: str,
        language: str,
    ) -> list[str] | None:
        """Mix ``text``, spoken, into what the members hear; ``MediaError`` if it fails."""
        members = self._members(auth_id, name, ids)
        targets = self._calls(members or [])
        if members is None or not targets:
            return None if members is None else []
        pcm = await self.services.tts.synthesize(text, voice, language)
        return self._overlay(targets, pcm)

    @staticmethod
    def _overlay(targets: list[tuple[Member, Call]], pcm: Pcm) -> list[str]:
        played = [(m, call) for m, call in targets if call.leg.media is not None]
        for _, call in played:
            overlay(call, pcm, loop=False, length=None, mix=True)
        return [m.member_id for m, _ in played]

    async def stop_audio(self, auth_id: str, name: str, ids: MemberIds) -> list[str] | None:
        """Stop what ``play``/``speak`` started for the members."""
        members = self._members(auth_id, name, ids)
        if members is None:
            return None
        stopped = []
        for member, call in self._calls(members):
            if call.leg.media is not None:
                await call.leg.media.stop_overlay()
                stopped.append(member.member_id)
        return stopped

    # -- rooms --------------------------------------------------------------------------

    def hangup(self, auth_id: str, name: str) -> bool:
        """End every member's call (the room closes when the last has left)."""
        return self.hangup_members(auth_id, name, ALL_MEMBERS) is not None

    def end(self, auth_id: str, name: str) -> bool:
        """Send every member away (their calls go on); False if no such room."""
        room = self.services.conferences.find(auth_id, name)
        if room is None:
            return False
        room.ending("conference-ended-via-api")
        for member in list(room.members.values()):
            member.kicked = True
            member.ended("conference_ended")
        return True

    def hangup_all(self, auth_id: str) -> list[str]:
        """Hang up every conference of the account; their names."""
        names = self.names(auth_id)
        for name in names:
            self.hangup(auth_id, name)
        return names

    def record(
        self,
        auth_id: str,
        name: str,
        *,
        file_format: str,
        callback_url: str = "",
        callback_method: str = "POST",
    ) -> RecordingStarted | None:
        """Record the room's mix from now (a room already recorded keeps its recording)."""
        room = self.services.conferences.find(auth_id, name)
        if room is None:
            return None
        running = self._recordings.get(room)
        if running is None:
            calls = self._calls(list(room.members.values()))
            callback = _Callback(callback_url, callback_method, calls[0][1]) if calls else None
            recording = RoomRecording(
                self.services,
                room,
                owner_uuid=room.uuid,
                wanted_format=file_format,
                recording_type="conference",
            )
            running = _Running(
                recording, callback if callback_url else None, lambda: self._room_closed(room)
            )
            self._recordings[room] = running
            room.closing.append(running.on_close)
        return RecordingStarted(running.recording.recording_id, running.recording.url)

    async def record_stop(self, auth_id: str, name: str) -> bool:
        """Stop recording the room and store the recording; False if it was not recorded."""
        room = self.services.conferences.find(auth_id, name)
        running = self._recordings.pop(room, None) if room else None
        if room is None or running is None:
            return False
        room.closing.remove(running.on_close)
        await self._save(name, running)
        return True

    def _room_closed(self, room: Room) -> None:
        running = self._recordings.pop(room, None)
        if running is not None:
            self.services.spawn(self._save(room.name, running))

    async def _save(self, name: str, running: _Running) -> None:
        recording = await running.recording.save()
        log.info("conference %s: recording %s saved", name, recording.recording_id)
        if running.callback is not None:
            self.services.spawn(self._report(name, running.recording, recording, running.callback))

    async def _report(
        self, name: str, room_recording: RoomRecording, recording: Recording, callback: _Callback
    ) -> None:
        account = callback.call.route.account
        params = {
            "conference_name": name,
            "record_url": room_recording.url,
            "recording_id": recording.recording_id,
            "recording_duration": str(round(recording.recording_duration_ms / 1000)),
            "recording_duration_ms": str(recording.recording_duration_ms),
            "recording_start_ms": str(recording.recording_start_ms),
            "recording_end_ms": str(recording.recording_end_ms),
        }
        await self.services.webhooks.notify(
            callback.url,
            callback.method,
            params,
            account.auth_token,
            auth_id=account.auth_id,
            reach=callback.call.reach,
        )
