"""Request signatures that Plivo's and Twilio's SDK validators accept.

Every request to a customer URL carries the headers Plivo sends and the one
Twilio sends, whatever the application's dialect, so that
``plivo.utils.validate_v3_signature``, ``plivo.utils.validate_signature`` and
``twilio.request_validator.RequestValidator`` (and the other SDKs'
equivalents) accept it unchanged. Twilio's header costs one HMAC-SHA1 more
per request (14 us with 16 parameters, against 41-57 us for the Plivo headers,
on a shared 2-core machine at load 5; a webhook request costs about 240 us of
CPU in all, see docs/benchmarks.md), and so an application whose dialect is not
known yet (the answer URL request of an unpinned application) needs no guessing:

* V3 - ``X-Plivo-Signature-V3`` / ``-Ma-V3`` / ``-V3-Nonce``: base64
  HMAC-SHA256 of ``"{message}.{nonce}"`` where the message is the URL without
  query, then ``?`` and the query parameters sorted as ``k=v&k=v``; for a POST
  the form parameters follow, sorted, as ``kvkv`` (after a ``.`` when the URL
  had a query). A GET carries its parameters in the query. A JSON body is not
  part of the message: it is signed as a POST without parameters.
* V2 - ``X-Plivo-Signature-V2`` / ``-Ma-V2`` / ``-V2-Nonce``: base64
  HMAC-SHA256 of the URL without query, immediately followed by the nonce.

* Twilio - ``X-Twilio-Signature``: base64 HMAC-SHA1 keyed with the account's
  auth token over the full URL (with its query: for a GET, the parameters) and,
  for a POST form, each parameter name followed by its value, sorted by name
  (repeated values sorted and deduplicated, as the validator does). A JSON
  body is not part of it (Twilio's ``bodySHA256`` is not sent). After an HTTP
  redirect the client signs the next hop's URL again (``client.py``).

The ``Ma`` variants are keyed with the main account's auth token; for a main
account they equal the plain ones.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse, urlunparse

Params = Mapping[str, str | Sequence[str]]

_NONCE_RANGE = 10**20
TWILIO_HEADER = "X-Twilio-Signature"


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The tokens a request is signed with.

    ``main_auth_token`` is the parent account's token for a sub-account; ``None``
    means ``auth_token`` already is the main account's.
    """

    auth_token: str
    main_auth_token: str | None = None


def new_nonce() -> str:
    """A 20-digit random nonce, the form Plivo uses (e.g. ``05429567804466091622``)."""
    return f"{secrets.randbelow(_NONCE_RANGE):020d}"


def normalize(params: Params | None) -> dict[str, list[str]]:
    """Every value as a list, so repeated parameters sign like single ones."""
    if not params:
        return {}
    return {k: [v] if isinstance(v, str) else list(v) for k, v in params.items()}


def sign(
    method: str,
    url: str,
    params: Mapping[str, Sequence[str]],
    keys: SigningKeys,
    nonce: str | None = None,
) -> dict[str, str]:
    """The Plivo and Twilio signature headers for one request.

    ``url`` is exactly the URL requested (for a GET, including the appended
    parameters); ``params`` are the POST form parameters (empty for GET/JSON).
    """
    nonce = nonce or new_nonce()
    base, query = _split(url)
    v3_text = f"{_v3_message(method, base, query, params)}.{nonce}"
    v2_text = base + nonce
    v3 = _hmac_b64(keys.auth_token, v3_text)
    v2 = _hmac_b64(keys.auth_token, v2_text)
    main = keys.main_auth_token
    return {
        "X-Plivo-Signature-V3": v3,
        "X-Plivo-Signature-Ma-V3": _hmac_b64(main, v3_text) if main else v3,
        "X-Plivo-Signature-V3-Nonce": nonce,
        "X-Plivo-Signature-V2": v2,
        "X-Plivo-Signature-Ma-V2": _hmac_b64(main, v2_text) if main else v2,
        "X-Plivo-Signature-V2-Nonce": nonce,
        TWILIO_HEADER: twilio_signature(method, url, params, keys.auth_token),
    }


def twilio_signature(
    method: str, url: str, params: Mapping[str, Sequence[str]], auth_token: str
) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` (the URL as requested)."""
    text = url
    if method != "GET":
        text += "".join(f"{k}{v}" for k in sorted(params) for v in _distinct(params[k]))
    digest = hmac.digest(auth_token.encode(), text.encode(), "sha1")
    return base64.b64encode(digest).decode("ascii")


def _distinct(values: Sequence[str]) -> Sequence[str]:
    return values if len(values) == 1 else sorted(set(values))


def _v3_message(method: str, base: str, query: str, params: Mapping[str, Sequence[str]]) -> str:
    sorted_query = _sorted_query(query)
    sorted_params = "" if method == "GET" else _sorted_params(params)
    if not sorted_params:
        return f"{base}?{sorted_query}" if sorted_query else base
    if sorted_query:
        return f"{base}?{sorted_query}.{sorted_params}"
    return f"{base}?{sorted_params}"


def _split(url: str) -> tuple[str, str]:
    parts = urlparse(url)
    return urlunparse((parts.scheme, parts.netloc, parts.path, "", "", "")), parts.query


def _sorted_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qs(query, keep_blank_values=True)
    return "&".join(f"{k}={v}" for k in sorted(pairs) for v in sorted(pairs[k]))


def _sorted_params(params: Mapping[str, Sequence[str]]) -> str:
    return "".join(f"{k}{v}" for k in sorted(params) for v in sorted(params[k]))


def _hmac_b64(key: str, text: str) -> str:
    digest = hmac.digest(key.encode(), text.encode(), "sha256")
    return base64.b64encode(digest).decode("ascii")
