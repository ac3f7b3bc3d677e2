"""The small helpers every handler uses: auth, bodies, fields, pages, replies.

Replies follow Plivo: every body carries a fresh ``api_id``; errors are
``{"api_id": ..., "error": "<message>"}``, ``error`` always a string (the SDKs
print it); a bad field also gets ``"fields": {"<field>": "<what is wrong>"}``,
and ``error`` then reads ``"<field>: <what is wrong>"`` (``; `` between fields).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from callplane.errors import ValidationError
from callplane.json_shape import shape_problem
from callplane.net.auth_failures import AuthFailures
from callplane.store import Page, Store
from callplane.store.ids import twilio_account_sid
from callplane.store.models import Account

OnChange = Callable[[], Awaitable[None] | None]
Body = Mapping[str, Any]
Parser = Callable[[str, Any], Any]

MAX_PAGE = 20
MAX_TEXT = 2048
MAX_FORM_FIELDS = 256
MAX_JSON_DEPTH = 32
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
AUTH_FAILED = "Authentication failed"
BANNED = "too many failed authentications from your address: try again later"
LIST_RESOURCES = frozenset(
    {
        "Application",
        "Number",
        "Call",
        "Blocklist",
        "Subaccount",
        "Endpoint",
        "ApiKey",
        "Recording",
        "Flow",
        "Ban",
    }
)


class ApiError(Exception):
    """An error reply: HTTP status and Plivo's ``error`` value."""

    def __init__(self, status: int, error: str | dict[str, str]) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


class JsonResponse(JSONResponse):
    """Starlette's JSONResponse, encoded with orjson (the same compact JSON, faster)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def reply(status: int = 200, **fields: Any) -> Response:
    if status == 204:
        return Response(status_code=204)
    return JsonResponse({"api_id": str(uuid.uuid4()), **fields}, status_code=status)


def error_reply(request: Request, status: int, error: str | dict[str, str]) -> Response:
    """``{"api_id", "error"}`` (and ``fields`` for field errors); list requests also get
    ``"objects": []``.

    The plivo SDK tests the truth of a parsed list response, which calls
    ``len(response.objects)``: without ``objects`` a 401 on a list would raise
    AttributeError in the SDK instead of its AuthenticationError.
    """
    headers = {"WWW-Authenticate": 'Basic realm="callplane"'} if status == 401 else None
    shown = {"error": error} if isinstance(error, str) else field_errors(error)
    body: dict[str, Any] = {"api_id": str(uuid.uuid4()), **shown}
    if _is_list_request(request):
        body["objects"] = []
    return JsonResponse(body, status_code=status, headers=headers)


def field_errors(fields: Mapping[str, str]) -> dict[str, Any]:
    """An error body's ``error`` text and ``fields`` for bad fields."""
    text = "; ".join(f"{field}: {why}" for field, why in fields.items())
    return {"error": text, "fields": dict(fields)}


def _is_list_request(request: Request) -> bool:
    last = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    return request.method == "GET" and last in LIST_RESOURCES


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def changed(request: Request) -> None:
    """Tell the owner of the app (if it asked) that configuration changed."""
    on_change: OnChange | None = request.app.state.on_change
    if on_change is None:
        return
    result = on_change()
    if inspect.isawaitable(result):
        await result


# -- authentication -----------------------------------------------------------


async def authenticate(request: Request) -> Account:
    """The account of the Basic credentials, which must own the ``{auth_id}`` path.

    A client IP banned for too many wrong credentials gets 403 whatever it sends;
    wrong credentials count towards that ban (``app.state.auth_failures``).
    """
    account = await credentials_account(request)
    if request.path_params.get("auth_id") not in _ids_of(account):
        raise ApiError(401, AUTH_FAILED)
    return account


async def credentials_account(request: Request) -> Account:
    """The account of the Basic credentials, whatever the path (see ``authenticate``)."""
    failures: AuthFailures | None = request.app.state.auth_failures
    source = request.client.host if request.client else ""
    if failures is not None and failures.banned(source):
        raise ApiError(403, BANNED)
    header = request.headers.get("authorization", "")
    try:
        auth_id, token = _basic_credentials(header)
    except ApiError:
        if failures is not None and header:
            failures.failed(source, None, "REST API: malformed Basic credentials")
        raise
    account = await store_of(request).authenticate(auth_id, token)
    if account is None and failures is not None:
        failures.failed(source, auth_id, "REST API: wrong auth token or API key")
    if account is None:
        raise ApiError(401, AUTH_FAILED)
    return account


def _ids_of(account: Account) -> tuple[str, str]:
    """The auth id, and the Twilio-style SID the Twilio-compatible paths carry."""
    return account.auth_id, twilio_account_sid(account.auth_id)


def main_only(account: Account, what: str) -> None:
    """403 for a sub-account asking what only a main account may do."""
    if account.parent_auth_id is not None:
        raise ApiError(403, f"only the main account can {what}")


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(401, AUTH_FAILED)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, AUTH_FAILED) from None
    auth_id, sep, token = decoded.partition(":")
    if not sep:
        raise ApiError(401, AUTH_FAILED)
    return auth_id, token


# -- request bodies -----------------------------------------------------------


async def read_body(request: Request) -> dict[str, Any]:
    """A JSON object or a url-encoded form as one mapping (empty body, JSON ``""`` or
    ``null``: ``{}``).

    The body's size is bounded by :class:`~callplane.api.body_limit.BodyLimit`; its
    shape here: at most ``MAX_FORM_FIELDS`` form fields, JSON nested at most
    ``MAX_JSON_DEPTH`` deep (checked before decoding, which would recurse).
    Parsing stays on the event loop: ``json.loads`` holds the GIL throughout, so a
    worker thread would not shorten the loop's wait for a large body.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        raise ApiError(400, "send JSON or application/x-www-form-urlencoded, not multipart")
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ApiError(400, "the client went away before the body was complete") from None
    return _parse_body(content_type, raw)


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type == "application/x-www-form-urlencoded":
        return _form(raw)
    if not raw.strip():
        return {}
    return _json_object(raw)


def _form(raw: bytes) -> dict[str, Any]:
    try:
        decoded = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "form body is not UTF-8") from None
    try:
        return dict(parse_qsl(decoded, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise ApiError(400, f"form body has more than {MAX_FORM_FIELDS} fields") from None


def _json_object(raw: bytes) -> dict[str, Any]:
    problem = shape_problem(raw, MAX_JSON_DEPTH)
    if problem:
        raise ApiError(400, f"request body: {problem}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None
    if data is None or data == "":  # plivo-node sends "" for a call without parameters
        return {}
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise ValidationError(name, "must be a string")
    found = str(value).strip()
    if "\x00" in found:
        raise ValidationError(name, "must not contain NUL characters")
    if len(found) > MAX_TEXT:
        raise ValidationError(name, f"at most {MAX_TEXT} characters")
    return found


def flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise ValidationError(name, "must be true or false")


def integer(name: str, value: Any) -> int:
    """An integer that fits the database's 32-bit INTEGER columns."""
    if isinstance(value, bool):
        raise ValidationError(name, "must be an integer")
    try:
        found = int(str(value).strip())
    except ValueError:
        raise ValidationError(name, "must be an integer") from None
    if not INT_MIN <= found <= INT_MAX:
        raise ValidationError(name, f"must be between {INT_MIN} and {INT_MAX}")
    return found


def number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValidationError(name, "must be a number")
    try:
        found = float(str(value).strip())
    except ValueError:
        raise ValidationError(name, "must be a number") from None
    if not math.isfinite(found):
        raise ValidationError(name, "must be a finite number")
    return found


def parse_fields(
    body: Body, parsers: Mapping[str, Parser], ignored: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Typed values of the fields present; unknown fields are errors, ``ignored`` are not."""
    values: dict[str, Any] = {}
    for name, raw in body.items():
        if name in ignored:
            continue
        parser = parsers.get(name)
        if parser is None:
            raise ValidationError(name, "unknown parameter")
        values[name] = parser(name, raw)
    return values


def required(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    if value in (None, "", []):
        raise ValidationError(name, "required")
    return value


# -- lists ----------------------------------------------------------------------


def page_args(query: QueryParams) -> tuple[int, int]:
    """``limit`` (1-20, default 20) and ``offset`` (0+, default 0) of a list request."""
    limit = integer("limit", query.get("limit", MAX_PAGE))
    offset = integer("offset", query.get("offset", 0))
    if not 0 < limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValidationError("offset", "must be 0 or more")
    return limit, offset


def filters_of(query: QueryParams, allowed: frozenset[str]) -> dict[str, str]:
    """Query parameters other than limit/offset; ones not in ``allowed`` are errors."""
    found = {k: v for k, v in query.items() if k not in ("limit", "offset")}
    for name in found:
        if name not in allowed:
            raise ValidationError(name, "unsupported filter")
    return found


def list_reply(
    request: Request, page: Page[Any], limit: int, offset: int, objects: list[dict[str, Any]]
) -> Response:
    """Plivo's list shape: ``meta`` (limit, offset, next, previous, total_count) + ``objects``."""
    path = request.url.path if request.url.path.endswith("/") else request.url.path + "/"
    extra = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}

    def link(at: int) -> str:
        return f"{path}?{urlencode({**extra, 'limit': limit, 'offset': at})}"

    meta = {
        "limit": limit,
        "offset": offset,
        "total_count": page.total,
        "next": link(offset + limit) if offset + limit < page.total else None,
        "previous": link(max(offset - limit, 0)) if offset > 0 else None,
    }
    return reply(meta=meta, objects=objects)


def http_url(name: str, value: str) -> str:
    """``value`` as an http:// or https:// URL, else a 400 naming ``name``."""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(name, "must be an http:// or https:// URL")
    return url


def http_method(name: str, value: str) -> str:
    """``value`` as GET or POST (default POST), else a 400 naming ``name``."""
    method = (value or "POST").upper()
    if method not in ("GET", "POST"):
        raise ValidationError(name, "must be GET or POST")
    return method
