"""What every handler of the Twilio-compatible API (``/2010-04-01/``) shares: Twilio's
error shape, form bodies with repeated keys, RFC 2822 times and Twilio's paging.

Authentication is the Plivo API's own (``http.credentials_account``): the Basic
credentials are ``AC...`` (or the auth id) and the auth token or an API key secret,
and wrong ones count towards the same bans. The path's ``AccountSid`` is that
account's ``AC...`` SID or, for a main account, one of its sub-accounts'.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from callplane.api.http import (
    AUTH_FAILED,
    MAX_FORM_FIELDS,
    ApiError,
    JsonResponse,
    credentials_account,
    store_of,
)
from callplane.errors import NotFound, ValidationError
from callplane.store.ids import twilio_account_sid
from callplane.store.models import Account

log = logging.getLogger("callplane.api")

API_VERSION = "2010-04-01"
BASE = f"/{API_VERSION}/Accounts/{{auth_id}}"
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_VALUE = 4096  # characters; Twilio's inline Twiml may be 4,000
# Twilio's error codes for the statuses Callplane answers with.
CODES = {400: 21100, 401: 20003, 403: 20003, 404: 20404, 405: 20004, 503: 20503}

# Twilio's application fields -> Callplane's (applications, and numbers' own ones).
APP_FIELDS = {
    "FriendlyName": "app_name",
    "VoiceUrl": "answer_url",
    "VoiceMethod": "answer_method",
    "VoiceFallbackUrl": "fallback_answer_url",
    "VoiceFallbackMethod": "fallback_method",
    "StatusCallback": "hangup_url",
    "StatusCallbackMethod": "hangup_method",
    "SmsUrl": "message_url",
    "SmsMethod": "message_method",
}
# The store's field names in its errors -> the names the Twilio request used.
TWILIO_NAMES = {
    **{ours: theirs for theirs, ours in APP_FIELDS.items()},
    "alias": "FriendlyName",
    "numbers": "PhoneNumber",
    "app_id": "VoiceApplicationSid",
}

Handler = Callable[[Request], Awaitable[Response]]
Form = dict[str, list[str]]


class TwilioError(Exception):
    """A reply in Twilio's error shape with one of Twilio's error codes."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_reply(status: int, message: str, code: int | None = None) -> Response:
    code = code or CODES.get(status, 20500)
    body = {"code": code, "message": message, "more_info": MORE_INFO.format(code=code)}
    headers = {"WWW-Authenticate": 'Basic realm="callplane"'} if status == 401 else None
    return JsonResponse({**body, "status": status}, status_code=status, headers=headers)


def handler(function: Handler) -> Handler:
    """Errors raised by ``function`` (or the shared helpers) answered in Twilio's shape."""

    @functools.wraps(function)
    async def wrapped(request: Request) -> Response:
        try:
            return await function(request)
        except TwilioError as exc:
            return error_reply(exc.status, exc.message, exc.code)
        except ApiError as exc:
            return error_reply(exc.status, _message(exc.error))
        except ValidationError as exc:
            why = str(exc).removeprefix(f"{exc.field}: ")
            return error_reply(400, f"{TWILIO_NAMES.get(exc.field, exc.field)}: {why}")
        except NotFound:
            return error_reply(404, f"The requested resource {request.url.path} was not found")

    return wrapped


def _message(error: str | dict[str, str]) -> str:
    if isinstance(error, str):
        return error
    return "; ".join(f"{name}: {why}" for name, why in error.items())


@handler
async def not_found(request: Request) -> Response:
    """Any other path under ``/2010-04-01/``."""
    raise NotFound(request.url.path)


async def account_of(request: Request) -> Account:
    """The account of the path: the credentials' own, or (as on Twilio) one of their
    main account's sub-accounts; anything else is 401."""
    account = await credentials_account(request)
    sid = request.path_params["auth_id"]
    if sid in (account.auth_id, account_sid(account)):
        return account
    if account.parent_auth_id is None:
        sub = await store_of(request).account_by_twilio_sid(sid)
        if sub is not None and sub.enabled and sub.parent_auth_id == account.auth_id:
            return sub
    raise ApiError(401, AUTH_FAILED)


def account_sid(account: Account) -> str:
    return twilio_account_sid(account.auth_id)


def account_uri(account: Account) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid(account)}"


# -- bodies -----------------------------------------------------------------------------


async def read_form(request: Request) -> Form:
    """A url-encoded body, every value of each key (``StatusCallbackEvent`` repeats)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ApiError(400, "the client went away before the body was complete") from None
    if not raw.strip():
        return {}
    if content_type != "application/x-www-form-urlencoded":
        raise ApiError(400, "send application/x-www-form-urlencoded, as Twilio's API takes")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise ApiError(400, "form body is not UTF-8") from None
    except ValueError:
        raise ApiError(400, f"form body has more than {MAX_FORM_FIELDS} fields") from None
    form: Form = {}
    for name, value in pairs:
        if "\x00" in value or len(value) > MAX_VALUE:
            raise ValidationError(name, f"at most {MAX_VALUE} characters, no NUL")
        form.setdefault(name, []).append(value.strip())
    return form


def single(form: Form, name: str, default: str = "") -> str:
    values = form.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise ValidationError(name, "given more than once")
    return values[0]


def check_known(form: Mapping[str, Any], known: Iterable[str]) -> None:
    for name in form:
        if name not in known:
            raise ValidationError(name, "unknown parameter")


def http_url(name: str, value: str) -> str:
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TwilioError(400, 21205, f"{name}: {value!r} is not a valid http:// or https:// URL")
    return value


def flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise ValidationError(name, "must be true or false")


def seconds(name: str, value: str, default: int, most: int) -> int:
    if not value:
        return default
    try:
        found = int(value)
    except ValueError:
        raise ValidationError(name, "must be a whole number of seconds") from None
    if not 0 < found <= most:
        raise ValidationError(name, f"must be 1 to {most} seconds")
    return found


# -- times ------------------------------------------------------------------------------


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's times: ``Tue, 31 Aug 2010 20:36:28 +0000`` (stored times are naive UTC)."""
    if moment is None:
        return None
    return format_datetime(moment.replace(tzinfo=UTC))


def time_bounds(name: str, value: str) -> dict[str, datetime]:
    """``StartTime`` (that day), ``StartTime>`` (on or after), ``StartTime<`` (on or
    before): the store's ``column__gte``/``__lt`` bounds (see ``time_range``)."""
    column = {"StartTime": "initiation_time", "EndTime": "end_time", "DateCreated": "add_time"}[
        name.rstrip("<>")
    ]
    start, end = time_range(name, value)
    bounds = {}
    if start is not None:
        bounds[f"{column}__gte"] = start
    if end is not None:
        bounds[f"{column}__lt"] = end
    return bounds


def time_range(name: str, value: str) -> tuple[datetime | None, datetime | None]:
    """The UTC span ``[start, end)`` a Twilio date filter selects: ``Name`` that day,
    ``Name>`` on or after, ``Name<`` on or before. Values are ``YYYY-MM-DD`` or
    ``YYYY-MM-DDTHH:MM:SSZ`` (what the SDK sends), UTC."""
    stamp, span = _stamp(name, value)
    if name.endswith(">"):
        return stamp, None
    if name.endswith("<"):
        return None, stamp + span
    day = stamp.replace(hour=0, minute=0, second=0)
    return day, day + timedelta(1)


def _stamp(name: str, value: str) -> tuple[datetime, timedelta]:
    """A UTC time and the span its precision covers."""
    for fmt, span in (("%Y-%m-%dT%H:%M:%SZ", timedelta(seconds=1)), ("%Y-%m-%d", timedelta(1))):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC), span
        except ValueError:
            continue
    raise ValidationError(name, "must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")


# -- lists ------------------------------------------------------------------------------

PAGE_PARAMS = frozenset({"Page", "PageSize", "PageToken"})


@dataclass(frozen=True, slots=True)
class PageArgs:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return self.page * self.size


def page_args(form: Mapping[str, str]) -> PageArgs:
    """``PageSize`` (1-1000, default 50) and ``Page`` (0+); ``PageToken`` is not
    needed (pages are offsets) and is accepted as the SDK sends it back."""
    try:
        size = int(form.get("PageSize") or DEFAULT_PAGE_SIZE)
        page = int(form.get("Page") or 0)
    except ValueError:
        raise ValidationError("Page", "Page and PageSize must be whole numbers") from None
    if not 0 < size <= MAX_PAGE_SIZE:
        raise ValidationError("PageSize", f"must be 1 to {MAX_PAGE_SIZE}")
    if page < 0:
        raise ValidationError("Page", "must be 0 or more")
    return PageArgs(page, size)


def list_reply(
    request: Request, key: str, items: list[dict[str, Any]], args: PageArgs, total: int
) -> Response:
    """Twilio's list envelope: ``{key: [...], page, page_size, uri, first/next/previous
    _page_uri, start, end}`` and nothing else (the SDK reads the one other key)."""
    path = request.url.path
    kept = {k: v for k, v in request.query_params.items() if k not in PAGE_PARAMS}

    def uri(page: int) -> str:
        return f"{path}?{urlencode({**kept, 'PageSize': args.size, 'Page': page})}"

    more = args.offset + len(items) < total
    body = {
        key: items,
        "page": args.page,
        "page_size": args.size,
        "uri": uri(args.page),
        "first_page_uri": uri(0),
        "next_page_uri": uri(args.page + 1) if more else None,
        "previous_page_uri": uri(args.page - 1) if args.page > 0 else None,
        "start": args.offset,
        "end": args.offset + max(len(items) - 1, 0),
    }
    return JsonResponse(body)
