"""Every operation of the REST API, as data: the routes and the OpenAPI document
(``openapi.py``) are both built from ``OPERATIONS``, so they cannot drift apart.

Body and query parameters are the handlers' own parser tables (``FIELDS``...):
the parser a field uses decides its type in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import (
    account,
    applications,
    blocklist,
    calls,
    endpoints,
    flow_components,
    flow_runs,
    flows,
    keys,
    live,
    numbers,
    outbound_calls,
    recordings,
    security,
    streams,
    subaccounts,
    trunks,
    usage,
)
from callplane.api.http import Parser, text

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # under /v1/Account/{auth_id}; "" is the account itself
    handler: Handler
    summary: str
    tag: str
    status: int = 200  # the success status
    body: Mapping[str, Parser] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    query: Mapping[str, Parser] = field(default_factory=dict)
    listing: bool = False  # takes limit/offset, answers {meta, objects}
    example: Mapping[str, Any] | None = None  # a request body


def _names(names: frozenset[str]) -> dict[str, Parser]:
    return dict.fromkeys(sorted(names), text)


_SUB = {"subaccount": text}
_APP_EXAMPLE = {"app_name": "ivr", "answer_url": "https://example.com/answer"}

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "", account.get, "Get the account", "Account"),
    Operation(
        "POST",
        "",
        account.modify,
        "Modify the account (pricing: main account only)",
        "Account",
        202,
        body=account.FIELDS,
        example={"name": "Acme", "city": "Berlin", "address": "Hauptstr. 1"},
    ),
    Operation("POST", "/AuthToken", account.rotate_token, "Rotate the auth token", "Account"),
    Operation(
        "POST",
        "/Subaccount",
        subaccounts.create,
        "Create a sub-account",
        "Subaccount",
        201,
        body=subaccounts.CREATE_FIELDS,
        required=("name",),
        example={"name": "Wayne", "enabled": True},
    ),
    Operation(
        "GET", "/Subaccount", subaccounts.list_, "List sub-accounts", "Subaccount", listing=True
    ),
    Operation(
        "GET", "/Subaccount/{sub_auth_id}", subaccounts.get, "Get a sub-account", "Subaccount"
    ),
    Operation(
        "POST",
        "/Subaccount/{sub_auth_id}",
        subaccounts.modify,
        "Modify a sub-account",
        "Subaccount",
        202,
        body=subaccounts.UPDATE_FIELDS,
        example={"name": "Wayne", "enabled": False},
    ),
    Operation(
        "DELETE",
        "/Subaccount/{sub_auth_id}",
        subaccounts.delete,
        "Delete a sub-account (cascade=true: with its resources)",
        "Subaccount",
        204,
        body=subaccounts.DELETE_FIELDS,
    ),
    Operation(
        "POST",
        "/Application",
        applications.create,
        "Create an application",
        "Application",
        201,
        body=applications.CREATE_FIELDS,
        required=("app_name", "answer_url"),
        example=_APP_EXAMPLE,
    ),
    Operation(
        "GET",
        "/Application",
        applications.list_,
        "List applications",
        "Application",
        query={"app_name": text, **_SUB},
        listing=True,
    ),
    Operation(
        "GET", "/Application/{app_id}", applications.get, "Get an application", "Application"
    ),
    Operation(
        "POST",
        "/Application/{app_id}",
        applications.modify,
        "Modify an application",
        "Application",
        202,
        body=applications.FIELDS,
        example={"answer_url": "https://example.com/v2"},
    ),
    Operation(
        "DELETE",
        "/Application/{app_id}",
        applications.delete,
        "Delete an application",
        "Application",
        204,
    ),
    Operation(
        "POST",
        "/Number",
        numbers.create,
        "Add own (carrier) numbers",
        "Number",
        202,
        body=numbers.CREATE_FIELDS,
        required=("numbers",),
        example={"numbers": "14155550100,14155550101", "carrier": "own"},
    ),
    Operation(
        "GET",
        "/Number",
        numbers.list_,
        "List numbers",
        "Number",
        query=_names(numbers.LIST_FILTERS),
        listing=True,
    ),
    Operation("GET", "/Number/{number}", numbers.get, "Get a number", "Number"),
    Operation(
        "POST",
        "/Number/{number}",
        numbers.modify,
        "Modify a number (app, alias, sub-account)",
        "Number",
        202,
        body=numbers.UPDATE_FIELDS,
        example={"alias": "support line"},
    ),
    Operation("DELETE", "/Number/{number}", numbers.delete, "Remove a number", "Number", 204),
    Operation(
        "POST",
        "/Endpoint",
        endpoints.create,
        "Create a SIP endpoint",
        "Endpoint",
        201,
        body=endpoints.CREATE_FIELDS,
        required=("username", "password"),
        example={"username": "alice", "password": "s3cret-pass", "alias": "Alice"},
    ),
    Operation(
        "GET",
        "/Endpoint",
        endpoints.list_,
        "List SIP endpoints",
        "Endpoint",
        query=_SUB,
        listing=True,
    ),
    Operation("GET", "/Endpoint/{endpoint_id}", endpoints.get, "Get a SIP endpoint", "Endpoint"),
    Operation(
        "POST",
        "/Endpoint/{endpoint_id}",
        endpoints.modify,
        "Modify a SIP endpoint",
        "Endpoint",
        202,
        body=endpoints.UPDATE_FIELDS,
        example={"alias": "Alice (desk)"},
    ),
    Operation(
        "DELETE",
        "/Endpoint/{endpoint_id}",
        endpoints.delete,
        "Delete a SIP endpoint",
        "Endpoint",
        204,
    ),
    Operation(
        "POST",
        "/Trunk",
        trunks.create,
        "Create a SIP trunk (outbound gateway and/or inbound peer)",
        "Trunk",
        201,
        body=trunks.FIELDS,
        required=("name", "host"),
        example={"name": "carrier", "host": "192.0.2.10", "prefixes": ["1"]},
    ),
    Operation("GET", "/Trunk", trunks.list_, "List SIP trunks", "Trunk", listing=True),
    Operation("GET", "/Trunk/{trunk_id}", trunks.get, "Get a SIP trunk", "Trunk"),
    Operation(
        "POST",
        "/Trunk/{trunk_id}",
        trunks.modify,
        "Modify a SIP trunk",
        "Trunk",
        202,
        body=trunks.FIELDS,
        example={"caller_id": "14155550100"},
    ),
    Operation("DELETE", "/Trunk/{trunk_id}", trunks.delete, "Delete a SIP trunk", "Trunk", 204),
    Operation(
        "POST",
        "/Call",
        outbound_calls.create,
        "Make calls: one per destination in to (separated by <); request_uuid is the CallUUID",
        "Call",
        201,
        body=outbound_calls.FIELDS,
        required=("from", "to", "answer_url"),
        example={"from": "14155550100", "to": "14155550111", "answer_url": "https://example.com/a"},
    ),
    Operation(
        "GET",
        "/Call",
        live.list_calls,
        "List call records, newest first (status=live: the uuids of live calls)",
        "Call",
        query=_names(calls.LIST_FILTERS),
        listing=True,
    ),
    Operation(
        "GET",
        "/Call/{call_uuid}",
        live.get_call,
        "Get a call record (status=live: the live call)",
        "Call",
        query={"status": text},
    ),
    Operation(
        "POST",
        "/Call/{call_uuid}",
        live.transfer,
        "Transfer a live call: run the document at aleg_url",
        "Call",
        202,
        body=live.TRANSFER_FIELDS,
        required=("aleg_url",),
        example={"legs": "aleg", "aleg_url": "https://example.com/next", "aleg_method": "POST"},
    ),
    Operation("DELETE", "/Call/{call_uuid}", live.hangup, "Hang up a live call", "Call", 204),
    Operation(
        "POST",
        "/Call/{call_uuid}/Play",
        live.play,
        "Play audio URLs on a live call",
        "Call",
        202,
        body=live.PLAY_FIELDS,
        required=("urls",),
        example={"urls": "https://example.com/hold.wav", "loop": True},
    ),
    Operation("DELETE", "/Call/{call_uuid}/Play", live.stop_audio, "Stop playing", "Call", 204),
    Operation(
        "POST",
        "/Call/{call_uuid}/Speak",
        live.speak,
        "Speak text on a live call",
        "Call",
        202,
        body=live.SPEAK_FIELDS,
        required=("text",),
        example={"text": "Please hold.", "voice": "WOMAN", "language": "en-US"},
    ),
    Operation("DELETE", "/Call/{call_uuid}/Speak", live.stop_audio, "Stop speaking", "Call", 204),
    Operation(
        "POST",
        "/Call/{call_uuid}/DTMF",
        live.send_digits,
        "Send DTMF digits on a live call",
        "Call",
        202,
        body=live.DTMF_FIELDS,
        required=("digits",),
        example={"digits": "123#"},
    ),
    Operation(
        "POST",
        "/Call/{call_uuid}/Stream",
        streams.start,
        "Stream a live call's audio to a WebSocket",
        "Call",
        201,
        body=streams.START_FIELDS,
        required=("service_url",),
        example={"service_url": "wss://agent.example.com/voice", "bidirectional": True},
    ),
    Operation("GET", "/Call/{call_uuid}/Stream", streams.list_, "List a call's streams", "Call"),
    Operation("GET", "/Call/{call_uuid}/Stream/{stream_id}", streams.get, "Get a stream", "Call"),
    Operation(
        "DELETE", "/Call/{call_uuid}/Stream", streams.stop_all, "Stop every stream", "Call", 204
    ),
    Operation(
        "DELETE",
        "/Call/{call_uuid}/Stream/{stream_id}",
        streams.stop_one,
        "Stop a stream",
        "Call",
        204,
    ),
    Operation(
        "GET",
        "/Recording",
        recordings.list_,
        "List recordings, newest first",
        "Recording",
        query=_names(recordings.LIST_FILTERS),
        listing=True,
    ),
    Operation(
        "GET",
        "/Recording/{recording_id}.{file_format}",
        recordings.audio,
        "Download a recording's audio (audio/wav or audio/mpeg)",
        "Recording",
    ),
    Operation("GET", "/Recording/{recording_id}", recordings.get, "Get a recording", "Recording"),
    Operation(
        "DELETE",
        "/Recording/{recording_id}",
        recordings.delete,
        "Delete a recording and its file",
        "Recording",
        204,
    ),
    Operation(
        "GET",
        "/Usage",
        usage.get,
        "Calls, billed minutes and cost per day or month",
        "Usage",
        query=_names(usage.QUERY),
    ),
    Operation(
        "POST",
        "/ApiKey",
        keys.create,
        "Create an API key (the secret is shown once)",
        "ApiKey",
        201,
        body=keys.FIELDS,
        required=("name",),
        example={"name": "billing export"},
    ),
    Operation("GET", "/ApiKey", keys.list_, "List API keys", "ApiKey", listing=True),
    Operation("DELETE", "/ApiKey/{key_id}", keys.revoke, "Revoke an API key", "ApiKey", 204),
    Operation(
        "POST",
        "/Blocklist",
        blocklist.create,
        "Add a block rule",
        "Blocklist",
        201,
        body=blocklist.FIELDS,
        example={"match": "prefix", "pattern": "1900", "reason": "rejected"},
    ),
    Operation("GET", "/Blocklist", blocklist.list_, "List block rules", "Blocklist", listing=True),
    Operation("GET", "/Blocklist/{rule_id}", blocklist.get, "Get a block rule", "Blocklist"),
    Operation(
        "DELETE", "/Blocklist/{rule_id}", blocklist.delete, "Delete a block rule", "Blocklist", 204
    ),
    Operation(
        "POST",
        "/Flow",
        flows.create,
        "Create a flow (a draft; its shape is checked, not its sense)",
        "Flow",
        201,
        body=flows.FIELDS,
        example={"name": "reject calls"},
    ),
    Operation("GET", "/Flow", flows.list_, "List flows", "Flow", listing=True),
    Operation(
        "GET",
        "/Flow/Components",
        flow_components.list_,
        "The flow component catalog: settings and exits of each node type (before {flow_id})",
        "Flow",
    ),
    Operation("GET", "/Flow/{flow_id}", flows.get, "Get a flow with its draft document", "Flow"),
    Operation(
        "POST",
        "/Flow/{flow_id}",
        flows.modify,
        "Save a flow's draft (document and/or name)",
        "Flow",
        202,
        body=flows.FIELDS,
        example={"name": "reject calls (v2)"},
    ),
    Operation(
        "DELETE", "/Flow/{flow_id}", flows.delete, "Delete a flow and its versions", "Flow", 204
    ),
    Operation(
        "POST",
        "/Flow/{flow_id}/Validate",
        flows.check,
        "Validate a flow's draft: the problems, per node",
        "Flow",
    ),
    Operation(
        "POST",
        "/Flow/{flow_id}/Publish",
        flows.publish,
        "Publish the draft as the next immutable version (400 with the problems if invalid)",
        "Flow",
        201,
    ),
    Operation(
        "GET",
        "/Flow/{flow_id}/Version",
        flows.versions,
        "List a flow's published versions, newest first",
        "Flow",
        listing=True,
    ),
    Operation(
        "GET",
        "/Flow/{flow_id}/Version/{version}",
        flows.version,
        "Get a published version with its document",
        "Flow",
    ),
    Operation(
        "GET",
        "/Security/Ban",
        security.list_,
        "List banned SIP sources, refusal counters and limits (main account only)",
        "Security",
        listing=True,
    ),
    Operation(
        "DELETE",
        "/Security/Ban/{source}",
        security.lift,
        "Lift the ban of a SIP source (main account only)",
        "Security",
        204,
    ),
    # -- flow runs (api/flow_runs.py; also POST /v1/account/{auth_id}/phlo/{id}/) --
    Operation(
        "POST",
        "/Flow/{flow_id}/Run",
        flow_runs.run,
        "Run the newest published version from its Start node's api_request exit",
        "Flow",
        201,
        example={"to": "14155550100"},
    ),
    Operation(
        "GET", "/Flow/{flow_id}/Run", flow_runs.list_, "List a flow's runs", "Flow", listing=True
    ),
    Operation(
        "GET", "/Flow/{flow_id}/Run/{run_id}", flow_runs.get, "Get a run with its log", "Flow"
    ),
)
