"""Internal INVITEs between cluster nodes: a Conference member whose call runs on one
node joins the room another node owns (docs/cluster.md, "Conferences spanning nodes").

The member's node sends the owner an INVITE carrying ``X-Callplane-Member``: base64url
JSON of the account, the member's ``Conference`` options, the identity and parameters
of the member's call, the sending node, a wall-clock timestamp and a random nonce.
``X-Callplane-Node-Auth`` is HMAC-SHA256 of that header under the secret the nodes
share (``--cluster-secret``). The owner refuses an INVITE whose MAC does not verify,
whose timestamp is more than ``MAX_AGE`` seconds away from its clock, or whose nonce it
has seen (``Replays``): only a node can put a member in a room, and a captured INVITE
cannot be sent again.

When the member leaves the room, the owner's BYE carries ``X-Callplane-Exit`` (base64url
JSON of what the Conference action URL gets); a BYE without it (the owner hung the
member's call up) ends the call.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callplane.markup.verbs import Conference

MEMBER = "X-Callplane-Member"
AUTH = "X-Callplane-Node-Auth"
EXIT = "X-Callplane-Exit"
MAX_AGE = 30.0  # seconds; the nodes' clocks must agree (NTP)
_VERB_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Conference)}


class ForgedInvite(ValueError):
    """An internal INVITE that is not from a node (or is stale, replayed, malformed)."""


@dataclass(frozen=True, slots=True)
class MemberInvite:
    """Who joins which room, with what options; the call's identity for callbacks."""

    auth_id: str
    verb: Conference
    call_uuid: str
    from_number: str
    to_number: str
    direction: str
    caller_name: str
    params: Mapping[str, str]  # the call's extra parameters (X-PH-*, Twilio ids)
    dialect: str  # the call's dialect ("" = none yet)
    node: str  # the member's node


def _encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode(text: str) -> dict[str, Any]:
    try:
        found = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError) as exc:
        raise ForgedInvite(f"unreadable: {exc}") from exc
    if not isinstance(found, dict):
        raise ForgedInvite("not an object")
    return found


def _mac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def _options(verb: Conference) -> dict[str, object]:
    """The verb's fields that differ from their defaults: the INVITE stays small (UDP)."""
    return {
        name: value
        for name, value in dataclasses.asdict(verb).items()
        if value != _VERB_DEFAULTS[name]
    }


def member_headers(invite: MemberInvite, secret: bytes, now: float) -> tuple[tuple[str, str], ...]:
    """The two headers of the internal INVITE for ``invite``, signed at ``now`` (wall clock)."""
    body = {
        "auth_id": invite.auth_id,
        "verb": _options(invite.verb),
        "call": [
            invite.call_uuid,
            invite.from_number,
            invite.to_number,
            invite.direction,
            invite.caller_name,
        ],
        "params": dict(invite.params),
        "dialect": invite.dialect,
        "node": invite.node,
        "time": now,
        "nonce": secrets.token_hex(16),
    }
    text = _encode(body)
    return (MEMBER, text), (AUTH, _mac(secret, text))


def read_member(
    get: Callable[[str], str | None], secret: bytes, now: float, replays: Replays
) -> MemberInvite:
    """The member an INVITE's headers (``get``) carry; ``ForgedInvite`` unless a node sent it."""
    text, mac = get(MEMBER) or "", get(AUTH) or ""
    if not secret or not hmac.compare_digest(_mac(secret, text), mac):
        raise ForgedInvite("bad or missing node signature")
    body = _decode(text)
    try:
        sent, nonce, member = float(body["time"]), str(body["nonce"]), _member(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise ForgedInvite(f"malformed: {exc!r}") from exc
    if abs(now - sent) > MAX_AGE:
        raise ForgedInvite(f"signed {now - sent:.0f} s ago")
    if not replays.first(nonce, now):
        raise ForgedInvite("replayed")
    return member


def _member(body: dict[str, Any]) -> MemberInvite:
    options = {k: v for k, v in dict(body["verb"]).items() if k in _VERB_DEFAULTS}
    call_uuid, from_number, to_number, direction, caller_name = map(str, body["call"])
    return MemberInvite(
        str(body["auth_id"]),
        Conference(**options),
        call_uuid,
        from_number,
        to_number,
        direction,
        caller_name,
        {str(k): str(v) for k, v in dict(body.get("params") or {}).items()},
        str(body.get("dialect") or ""),
        str(body.get("node") or ""),
    )


class Replays:
    """Nonces of the internal INVITEs accepted within ``MAX_AGE``."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def first(self, nonce: str, now: float) -> bool:
        if len(self._seen) > 1000:
            self._seen = {n: t for n, t in self._seen.items() if now - t <= 2 * MAX_AGE}
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


def exit_header(params: Mapping[str, str]) -> tuple[str, str]:
    return EXIT, _encode(dict(params))


def read_exit(value: str | None) -> dict[str, str] | None:
    """The action URL's parameters a BYE carries; None: the call was hung up."""
    if not value:
        return None
    try:
        return {str(k): str(v) for k, v in _decode(value).items()}
    except ForgedInvite:
        return None
