"""Identifiers and secrets the store hands out."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid

_AUTH_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_auth_id(prefix: str = "MA") -> str:
    """``MA`` (main) or ``SA`` (sub-account) + 18 upper-case letters/digits."""
    return prefix + "".join(secrets.choice(_AUTH_ID_ALPHABET) for _ in range(18))


def new_auth_token() -> str:
    """40 random URL-safe characters."""
    return secrets.token_urlsafe(30)


def new_app_id() -> str:
    """A 17-digit numeric string, like Plivo's application ids."""
    return str(10**16 + secrets.randbelow(9 * 10**16))


def new_rule_id() -> str:
    return str(uuid.uuid4())


def new_endpoint_id() -> str:
    """A 14-digit numeric string, like Plivo's endpoint ids."""
    return str(10**13 + secrets.randbelow(9 * 10**13))


def new_key_id() -> str:
    """``AK`` + 18 upper-case letters/digits."""
    return new_auth_id("AK")


def new_key_secret() -> str:
    """40 random URL-safe characters, shown once when the key is created."""
    return secrets.token_urlsafe(30)


def new_flow_id() -> str:
    """A UUID, like Plivo's PHLO ids."""
    return str(uuid.uuid4())


# -- Twilio-style SIDs (the Twilio-compatible API, api/twilio_*.py) ----------------

_HEX32 = frozenset("0123456789abcdef")


def twilio_account_sid(auth_id: str) -> str:
    """``AC`` + 32 hex characters, derived from the auth id (same id, same SID, always)."""
    return "AC" + hashlib.sha256(b"callplane-account-sid:" + auth_id.encode()).hexdigest()[:32]


def twilio_call_sid(call_uuid: str) -> str:
    return uuid_sid("CA", call_uuid)


def uuid_sid(prefix: str, uuid_text: str) -> str:
    """``prefix`` (``CA`` calls, ``RE`` recordings) + the UUID's 32 hex digits."""
    return prefix + uuid_text.replace("-", "")


def uuid_of_sid(sid: str, prefix: str = "CA") -> str | None:
    """The UUID of a ``prefix`` SID (hex in either case), or None when ``sid`` is not one."""
    digits = sid[2:].lower()
    if sid[:2] != prefix or len(digits) != 32 or not set(digits) <= _HEX32:
        return None
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
