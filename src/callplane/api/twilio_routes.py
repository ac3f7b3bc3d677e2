"""The Twilio-compatible API's routes, under ``/2010-04-01/Accounts/{AccountSid}/``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callplane.api import (
    twilio_apps,
    twilio_calls,
    twilio_conferences,
    twilio_numbers,
    twilio_recordings,
    twilio_streams,
)
from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse
from callplane.store.models import Account

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def account_shape(account: Account) -> dict[str, Any]:
    uri = tw.account_uri(account)
    created = tw.rfc2822(account.created)
    return {
        "sid": tw.account_sid(account),
        "friendly_name": account.name,
        "status": "active" if account.enabled else "suspended",
        "type": "Full",
        "owner_account_sid": tw.account_sid(account),
        "date_created": created,
        "date_updated": created,
        "uri": f"{uri}.json",
        "subresource_uris": {
            name.lower(): f"{uri}/{name}.json"
            for name in (
                "Calls",
                "Applications",
                "IncomingPhoneNumbers",
                "Recordings",
                "Conferences",
            )
        },
    }


@tw.handler
async def fetch_account(request: Request) -> Response:
    """``GET /2010-04-01/Accounts/{AccountSid}.json``: the authenticated account."""
    return JsonResponse(account_shape(await tw.account_of(request)))


def routes() -> list[BaseRoute]:
    base = tw.BASE
    numbers = f"{base}/IncomingPhoneNumbers"
    recordings = f"{base}/Recordings"
    conference = f"{base}/Conferences/{{conference_sid}}"
    participant = f"{conference}/Participants/{{call_sid}}.json"
    conf = twilio_conferences
    calls = f"{base}/Calls"
    return [
        Route(f"{base}/Calls.json", twilio_calls.create, methods=["POST"]),
        Route(f"{base}/Calls.json", twilio_calls.list_, methods=["GET"]),
        Route(f"{base}/Calls/{{call_sid}}.json", twilio_calls.fetch, methods=["GET"]),
        Route(f"{base}/Calls/{{call_sid}}.json", twilio_calls.update, methods=["POST"]),
        Route(
            f"{base}/Calls/{{call_sid}}/Recordings.json", twilio_recordings.list_, methods=["GET"]
        ),
        Route(f"{calls}/{{call_sid}}/Streams.json", twilio_streams.create, methods=["POST"]),
        Route(
            f"{calls}/{{call_sid}}/Streams/{{stream_sid}}.json",
            twilio_streams.update,
            methods=["POST"],
        ),
        Route(f"{base}/Applications.json", twilio_apps.create, methods=["POST"]),
        Route(f"{base}/Applications.json", twilio_apps.list_, methods=["GET"]),
        Route(f"{base}/Applications/{{app_sid}}.json", twilio_apps.fetch, methods=["GET"]),
        Route(f"{base}/Applications/{{app_sid}}.json", twilio_apps.update, methods=["POST"]),
        Route(f"{base}/Applications/{{app_sid}}.json", twilio_apps.delete, methods=["DELETE"]),
        Route(f"{base}/IncomingPhoneNumbers.json", twilio_numbers.create, methods=["POST"]),
        Route(f"{base}/IncomingPhoneNumbers.json", twilio_numbers.list_, methods=["GET"]),
        Route(f"{numbers}/{{number_sid}}.json", twilio_numbers.fetch, methods=["GET"]),
        Route(f"{numbers}/{{number_sid}}.json", twilio_numbers.update, methods=["POST"]),
        Route(f"{numbers}/{{number_sid}}.json", twilio_numbers.delete, methods=["DELETE"]),
        Route(f"{base}/Recordings.json", twilio_recordings.list_, methods=["GET"]),
        Route(f"{recordings}/{{recording_file}}", twilio_recordings.fetch, methods=["GET"]),
        Route(f"{recordings}/{{recording_file}}", twilio_recordings.delete, methods=["DELETE"]),
        Route(f"{base}/Conferences.json", conf.list_, methods=["GET"]),
        Route(f"{conference}.json", conf.fetch, methods=["GET"]),
        Route(f"{conference}.json", conf.update, methods=["POST"]),
        Route(f"{conference}/Participants.json", conf.list_participants, methods=["GET"]),
        Route(f"{conference}/Participants.json", conf.create_participant, methods=["POST"]),
        Route(participant, conf.fetch_participant, methods=["GET"]),
        Route(participant, conf.update_participant, methods=["POST"]),
        Route(participant, conf.delete_participant, methods=["DELETE"]),
        Route(f"{base}.json", fetch_account, methods=["GET"]),
        Route(f"/{tw.API_VERSION}/{{rest:path}}", tw.not_found, methods=ALL_METHODS),
    ]
