"""What the REST API reads of a running conference (``control/conference.py`` builds it).

Plain values, so any API dialect (Plivo's Conference, Twilio's Participants) can
shape them without reaching into the rooms or the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

ALL_MEMBERS: Final = "all"
# Which members an operation acts on: ids, or every member of the room.
MemberIds = tuple[str, ...] | Literal["all"]


@dataclass(frozen=True, slots=True)
class MemberView:
    member_id: str
    call_uuid: str
    from_number: str
    to_number: str
    caller_name: str
    direction: str  # inbound | outbound
    muted: bool
    deaf: bool
    joined_seconds: int  # how long the member has been in the room
    joined_at: datetime  # naive UTC
    held: bool
    starts: bool  # startConferenceOnEnter
    ends: bool  # endConferenceOnExit


@dataclass(frozen=True, slots=True)
class ConferenceView:
    name: str
    uuid: str
    run_seconds: int  # since the room was opened (until it closed)
    members: tuple[MemberView, ...]
    created: datetime  # naive UTC
    closed: datetime | None  # naive UTC; None while the room runs
    started: bool  # a member who starts the conference has joined
    end_reason: str | None  # Twilio's reason_conference_ended, once known
    ending_call_uuid: str | None


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    recording_id: str
    url: str
