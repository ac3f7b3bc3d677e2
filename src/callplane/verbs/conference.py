"""Conference: join the account's named room (``media/conference.py``) until leaving.

The call is answered, then joins the room (created on first join). A room
already holding ``maxMembers`` turns the call away at once. The member stays
until they hang up, press ``*`` (``hangupOnStar``), ``timeLimit`` passes, a
member with ``endConferenceOnExit`` leaves, or (``stayAlone="false"``) everyone
else has left. ``enterSound`` / ``exitSound`` (``beep:1``, ``beep:2`` or a
document URL) are played to the room; ``waitSound`` (a document of
Play/Speak/Wait, looped) to a member waiting for the conference to start or
alone in it. With ``record`` the whole room is recorded while this member is in
it (and not alone, unless ``recordWhenAlone``).

``callbackUrl`` gets ConferenceAction ``enter``, ``exit``, ``digits`` (keys
matching ``digitsMatch``, in ConferenceDigitsMatch) and ``record`` (with
RecordUrl, RecordingID...), each with ConferenceName, ConferenceUUID,
ConferenceMemberID and the call's parameters (CallUUID...). When the member
leaves, the action URL gets the same names, ConferenceAction ``exit`` (or
``full`` when the room turned the call away, with empty ConferenceUUID and
ConferenceMemberID) and the recording's parameters; its document runs next
(``redirect``), else the verbs after Conference do.

In a cluster, a room another node owns is joined there (``conference_remote.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from callplane.calls.call import Call, new_call_uuid
from callplane.markup.verbs import Conference
from callplane.media.conference import Member, Room, beeps
from callplane.media.pcm import Pcm
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome
from callplane.verbs.conference_recording import RoomRecording
from callplane.verbs.conference_remote import attend_remotely
from callplane.verbs.dial_digits import DigitsMatcher
from callplane.verbs.dial_sounds import NO_AUDIO, fetch_sound
from callplane.verbs.record import recording_params

Params = dict[str, str]
Notify = Callable[[str, Params], None]
Saving = Callable[[], Coroutine[Any, Any, Params]]


async def run(call: Call, verb: Conference) -> Outcome:
    params = await attend(call, verb)
    if call.ended:
        return ENDED
    if not verb.action:
        return NEXT
    if not verb.redirect:
        await call.notify_action(verb.action, verb.method, params)
        return NEXT
    document = await call.fetch_action(verb.action, verb.method, params)
    return ENDED if document is None else NewDocument(document)


async def attend(call: Call, verb: Conference, *, here: bool = False) -> Params:
    """Answer, join the room and stay until leaving; what the action URL gets.

    ``here``: the room is this node's (a member another node sent, ``control/room_guests.py``).
    """
    params = {"ConferenceName": verb.name, "ConferenceUUID": "", "ConferenceMemberID": ""}
    if not await call.answer():
        return params
    homes = None if here else call.services.room_homes
    home = await homes.home_of(call.route.account.auth_id, verb.name) if homes else None
    if home is not None and homes is not None:  # another node owns the room
        return await attend_remotely(call, verb, home, homes)
    wait = await fetch_sound(call, verb.wait_sound, "waitSound") if verb.wait_sound else NO_AUDIO
    enter, leave = await _sound(call, verb.enter_sound), await _sound(call, verb.exit_sound)
    room = call.services.conferences.room(call.route.account.auth_id, verb.name, new_call_uuid)
    if len(room.members) >= verb.max_members:
        call.note(f"Conference {verb.name}: full ({verb.max_members} members)")
        call.services.conferences.forget_if_empty(room)
        return {**params, "ConferenceAction": "full"}
    left: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    member = Member(
        room.next_member_id(),
        call.uuid,
        muted=verb.muted,
        starts=verb.start_conference_on_enter,
        ends=verb.end_conference_on_exit,
        stay_alone=verb.stay_alone,
        wait_sound=wait,
        ended=lambda reason: None if left.done() else left.set_result(reason),
    )
    room.join(member)
    room.announce(enter)
    params.update(ConferenceUUID=room.uuid, ConferenceMemberID=member.member_id)
    notify = _notifier(call, verb, params)
    notify("enter", {})
    recording = _record(call, verb, room, notify) if verb.record else None
    try:
        reason = await _stay(call, verb, room, member, left, notify)
        call.note(f"left conference {verb.name} ({reason})")
    finally:
        room.leave(member)
        call.services.conferences.forget_if_empty(room)
        room.announce(leave)
        notify("exit", {})
        saved = call.services.spawn(recording()) if recording else None
    return {**params, "ConferenceAction": "exit", **(await saved if saved else {})}


async def _sound(call: Call, sound: str) -> Pcm:
    if not sound or sound.startswith("beep:"):
        return beeps(sound)
    return await fetch_sound(call, sound, "Conference sound")


async def _stay(
    call: Call,
    verb: Conference,
    room: Room,
    member: Member,
    left: asyncio.Future[str],
    notify: Notify,
) -> str:
    """Why the member left: hangup_on_star, time_limit, or what the room said."""
    call.media.clear_digits()
    hearing = asyncio.ensure_future(call.media.play_frames(room.frames_for(member)))
    keys = asyncio.ensure_future(_keys(call, verb, notify))
    waiting: set[asyncio.Future[Any]] = {hearing, keys, left}
    with call.media.listening(member.heard):
        try:
            await asyncio.wait(
                waiting, timeout=verb.time_limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (hearing, keys):
                task.cancel()
            await asyncio.gather(hearing, keys, return_exceptions=True)
    if left.done():
        return left.result()
    if keys.done() and not keys.cancelled():
        return "hangup_on_star"
    return "media_ended" if hearing.done() and not hearing.cancelled() else "time_limit"


async def _keys(call: Call, verb: Conference, notify: Notify) -> None:
    """Report ``digitsMatch`` patterns; return on ``*`` with ``hangupOnStar``."""
    matcher = DigitsMatcher(verb.digits_match)
    while True:
        key = await call.media.digits.get()
        if verb.hangup_on_star and key == "*":
            return
        if pattern := matcher.feed(key):
            notify("digits", {"ConferenceDigitsMatch": pattern})


def _notifier(call: Call, verb: Conference, params: Params) -> Notify:
    def notify(action: str, extra: Params) -> None:
        if not verb.callback_url:
            return
        sent = call.action_params({**params, "ConferenceAction": action, **extra})
        call.services.spawn(
            call.services.webhooks.notify(
                verb.callback_url,
                verb.callback_method,
                sent,
                call.route.account.auth_token,
                auth_id=call.route.account.auth_id,
                reach=call.reach,
            )
        )

    return notify


def _record(call: Call, verb: Conference, room: Room, notify: Notify) -> Saving:
    """Record the room from now; the returned coroutine function saves it and reports it."""
    recording = RoomRecording(
        call.services,
        room,
        owner_uuid=call.uuid,
        wanted_format=verb.record_file_format,
        keep=lambda: verb.record_when_alone or len(room.members) > 1,
    )

    async def save() -> Params:
        saved = recording_params(call, await recording.save())
        notify("record", saved)
        return saved

    return save
