"""``/2010-04-01/Accounts/{AccountSid}/Conferences``: Twilio's Conference and
Participant resources over the rooms ``<Dial><Conference>`` members join, through
the same ``LiveConferences`` control as Plivo's Conference API (``api/conferences.py``).

A conference's SID is ``CF`` + its room's ConferenceUUID hex digits (the same room,
the same SID); a participant is addressed by its call's SID. Running rooms, and the
rooms the process closed recently (``media/conference.py`` keeps the last 1,000),
are listed; as on Twilio, the list shows ``in-progress`` conferences unless
``Status`` asks for ``init`` or ``completed``. Announcements and hold music are
audio files (WAV, MP3), fetched with GET; a TwiML document there is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import twilio_http as tw
from callplane.api.conferences import conferences_of
from callplane.api.http import JsonResponse, http_method
from callplane.api.live_protocol import LiveConferences
from callplane.calls.conference_views import ALL_MEMBERS, ConferenceView, MemberIds, MemberView
from callplane.errors import NotFound, ValidationError
from callplane.media.errors import MediaError
from callplane.store.ids import twilio_call_sid, uuid_of_sid, uuid_sid
from callplane.store.models import Account

STATUSES = ("init", "in-progress", "completed")
DATE_FILTERS = frozenset(
    f"{name}{op}" for name in ("DateCreated", "DateUpdated") for op in ("", "<", ">")
)
LIST_FILTERS = frozenset({"FriendlyName", "Status", *DATE_FILTERS, *tw.PAGE_PARAMS})
UPDATE_FIELDS = frozenset({"Status", "AnnounceUrl", "AnnounceMethod"})
PARTICIPANT_FILTERS = frozenset({"Muted", "Hold", "Coaching", "Label", *tw.PAGE_PARAMS})
PARTICIPANT_FIELDS = frozenset(
    {
        "Muted",
        "Hold",
        "HoldUrl",
        "HoldMethod",
        "AnnounceUrl",
        "AnnounceMethod",
        "EndConferenceOnExit",
    }
)
# Twilio participant features Callplane does not have: refused when asked for.
PARTICIPANT_UNSUPPORTED = {
    "WaitUrl": "changing a participant's wait music",
    "WaitMethod": "changing a participant's wait music",
    "BeepOnExit": "changing a participant's exit beep",
    "Coaching": "coaching",
    "CallSidToCoach": "coaching",
}


# -- shapes -----------------------------------------------------------------------------


def conference_sid(view: ConferenceView) -> str:
    return uuid_sid("CF", view.uuid)


def status_of(view: ConferenceView) -> str:
    if view.closed is not None:
        return "completed"
    return "in-progress" if view.started else "init"


def conference_shape(
    account: Account, view: ConferenceView, status: str | None = None
) -> dict[str, Any]:
    uri = f"{tw.account_uri(account)}/Conferences/{conference_sid(view)}"
    ending = view.ending_call_uuid
    completed = (status or status_of(view)) == "completed"
    return {
        "sid": conference_sid(view),
        "account_sid": tw.account_sid(account),
        "friendly_name": view.name,
        "status": status or status_of(view),
        "date_created": tw.rfc2822(view.created),
        "date_updated": tw.rfc2822(view.closed or view.created),
        "api_version": tw.API_VERSION,
        "region": "us1",
        "reason_conference_ended": view.end_reason if completed else None,
        "call_sid_ending_conference": twilio_call_sid(ending) if completed and ending else None,
        "uri": f"{uri}.json",
        "subresource_uris": {
            "participants": f"{uri}/Participants.json",
            "recordings": f"{uri}/Recordings.json",
        },
    }


def participant_shape(account: Account, view: ConferenceView, member: MemberView) -> dict[str, Any]:
    call_sid = twilio_call_sid(member.call_uuid)
    joined = tw.rfc2822(member.joined_at)
    return {
        "account_sid": tw.account_sid(account),
        "call_sid": call_sid,
        "conference_sid": conference_sid(view),
        "label": None,
        "call_sid_to_coach": None,
        "coaching": False,
        "date_created": joined,
        "date_updated": joined,
        "end_conference_on_exit": member.ends,
        "start_conference_on_enter": member.starts,
        "muted": member.muted,
        "hold": member.held,
        "status": "connected",
        "queue_time": "0",
        "uri": (
            f"{tw.account_uri(account)}/Conferences/{conference_sid(view)}"
            f"/Participants/{call_sid}.json"
        ),
    }


# -- conferences ------------------------------------------------------------------------


def _conference(request: Request, account: Account) -> tuple[LiveConferences, ConferenceView]:
    """The control and the conference of the path (running or recently closed)."""
    conferences = conferences_of(request)
    sid = request.path_params["conference_sid"]
    uuid = uuid_of_sid(sid, "CF")
    view = next((v for v in conferences.rooms(account.auth_id) if v.uuid == uuid), None)
    if view is None:
        raise NotFound(f"conference {sid}")
    return conferences, view


def _in_range(moment: datetime, span: tuple[datetime | None, datetime | None]) -> bool:
    start, end = span
    aware = moment.replace(tzinfo=UTC)
    return (start is None or aware >= start) and (end is None or aware < end)


@tw.handler
async def list_(request: Request) -> Response:
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, LIST_FILTERS)
    args = tw.page_args(query)
    status = query.get("Status") or "in-progress"
    if status not in STATUSES:
        raise ValidationError("Status", f"must be one of {', '.join(STATUSES)}")
    spans = {name: tw.time_range(name, query[name]) for name in DATE_FILTERS & query.keys()}
    views = [v for v in conferences_of(request).rooms(account.auth_id) if status_of(v) == status]
    if "FriendlyName" in query:
        views = [v for v in views if v.name == query["FriendlyName"]]
    for name, span in spans.items():
        if name.startswith("DateCreated"):
            views = [v for v in views if _in_range(v.created, span)]
        else:
            views = [v for v in views if _in_range(v.closed or v.created, span)]
    page = views[args.offset : args.offset + args.size]
    items = [conference_shape(account, v) for v in page]
    return tw.list_reply(request, "conferences", items, args, len(views))


@tw.handler
async def fetch(request: Request) -> Response:
    account = await tw.account_of(request)
    _, view = _conference(request, account)
    return JsonResponse(conference_shape(account, view))


@tw.handler
async def update(request: Request) -> Response:
    """``Status=completed`` ends the conference (its members' calls go on with their
    TwiML); ``AnnounceUrl`` plays an audio file to every member."""
    account = await tw.account_of(request)
    form = await tw.read_form(request)
    tw.check_known(form, UPDATE_FIELDS)
    status = tw.single(form, "Status")
    if status and status != "completed":
        raise ValidationError("Status", "must be completed")
    url = tw.http_url("AnnounceUrl", tw.single(form, "AnnounceUrl"))
    http_method("AnnounceMethod", tw.single(form, "AnnounceMethod"))
    if not (status or url):
        raise tw.TwilioError(400, 21218, "give Status or AnnounceUrl")
    conferences, view = _conference(request, account)
    running = view.closed is None
    if url and running:
        await _announce(conferences, account, view, ALL_MEMBERS, url)
    if status and running:
        conferences.end(account.auth_id, view.name)
        return JsonResponse(conference_shape(account, view, "completed"))
    return JsonResponse(conference_shape(account, view))


async def _announce(
    conferences: LiveConferences, account: Account, view: ConferenceView, ids: MemberIds, url: str
) -> None:
    try:
        await conferences.play(account.auth_id, view.name, ids, url)
    except MediaError as exc:
        raise ValidationError("AnnounceUrl", str(exc)) from exc


# -- participants -----------------------------------------------------------------------


@tw.handler
async def list_participants(request: Request) -> Response:
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, PARTICIPANT_FILTERS)
    args = tw.page_args(query)
    _, view = _conference(request, account)
    members = list(view.members)
    if "Muted" in query:
        muted = tw.flag("Muted", query["Muted"])
        members = [m for m in members if m.muted == muted]
    if "Hold" in query:
        held = tw.flag("Hold", query["Hold"])
        members = [m for m in members if m.held == held]
    if tw.flag("Coaching", query.get("Coaching", "")) or "Label" in query:
        members = []  # nobody coaches, and participants have no labels
    page = members[args.offset : args.offset + args.size]
    items = [participant_shape(account, view, m) for m in page]
    return tw.list_reply(request, "participants", items, args, len(members))


def _participant(
    request: Request, account: Account
) -> tuple[LiveConferences, ConferenceView, MemberView]:
    conferences, view = _conference(request, account)
    sid = request.path_params["call_sid"]
    call_uuid = uuid_of_sid(sid, "CA") or sid
    member = next((m for m in view.members if m.call_uuid == call_uuid), None)
    if member is None:
        raise NotFound(f"participant {sid}")
    return conferences, view, member


@tw.handler
async def fetch_participant(request: Request) -> Response:
    account = await tw.account_of(request)
    _, view, member = _participant(request, account)
    return JsonResponse(participant_shape(account, view, member))


@tw.handler
async def update_participant(request: Request) -> Response:
    """``Muted``, ``Hold`` (with ``HoldUrl`` music), ``EndConferenceOnExit`` and
    ``AnnounceUrl`` (an audio file played to the participant)."""
    account = await tw.account_of(request)
    form = await tw.read_form(request)
    for name, what in PARTICIPANT_UNSUPPORTED.items():
        if any(v.lower() not in ("", "false") for v in form.get(name, [])):
            raise tw.TwilioError(400, 21218, f"{name}: {what} is not supported by Callplane")
    tw.check_known(form, PARTICIPANT_FIELDS | PARTICIPANT_UNSUPPORTED.keys())
    hold_url = tw.http_url("HoldUrl", tw.single(form, "HoldUrl"))
    announce_url = tw.http_url("AnnounceUrl", tw.single(form, "AnnounceUrl"))
    for name in ("HoldMethod", "AnnounceMethod"):
        http_method(name, tw.single(form, name))
    flags = {
        name: tw.flag(name, tw.single(form, name))
        for name in ("Hold", "Muted", "EndConferenceOnExit")
        if name in form
    }
    conferences, view, member = _participant(request, account)
    auth_id, ids = account.auth_id, (member.member_id,)
    if "Hold" in flags:
        try:
            await conferences.hold(auth_id, view.name, ids, flags["Hold"], hold_url)
        except MediaError as exc:
            raise ValidationError("HoldUrl", str(exc)) from exc
    if "Muted" in flags:
        conferences.mute(auth_id, view.name, ids, flags["Muted"])
    if "EndConferenceOnExit" in flags:
        conferences.end_on_exit(auth_id, view.name, ids, flags["EndConferenceOnExit"])
    if announce_url:
        await _announce(conferences, account, view, ids, announce_url)
    _, view, member = _participant(request, account)
    return JsonResponse(participant_shape(account, view, member))


@tw.handler
async def delete_participant(request: Request) -> Response:
    """Kick: the participant leaves the conference, their call goes on with its TwiML."""
    account = await tw.account_of(request)
    conferences, view, member = _participant(request, account)
    conferences.kick(account.auth_id, view.name, (member.member_id,))
    return Response(status_code=204)


@tw.handler
async def create_participant(request: Request) -> Response:
    await tw.account_of(request)
    raise tw.TwilioError(
        405,
        20004,
        "Adding participants through the API is not supported by Callplane: create a call "
        "whose TwiML dials <Conference>",
    )
