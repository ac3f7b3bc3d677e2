"""Checks on what is written to the store; each failure names the field.

The API and the CLI both write through the store, so the rules live here once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from callplane.errors import ValidationError
from callplane.reject_reasons import RejectReason
from callplane.store.models import Application, BlockMatch, BlockRule

HTTP_METHODS = frozenset({"GET", "POST"})
DIALECTS = frozenset({"", "plivo", "twiml", "voxml"})
REJECT_REASONS = tuple(reason.value for reason in RejectReason)
_NUMBER_NOISE = re.compile(r"[+\s\-]")
_E164_DIGITS = re.compile(r"\d{8,15}")
_PATTERN_DIGITS = re.compile(r"\d{1,15}")


def normalise_number(raw: str, field: str = "number") -> str:
    """E.164 digits without "+", spaces or dashes; 8 to 15 digits."""
    digits = _NUMBER_NOISE.sub("", raw)
    if not _E164_DIGITS.fullmatch(digits):
        raise ValidationError(field, f"{raw!r} is not an E.164 number (8-15 digits)")
    return digits


def check_method(field: str, value: str) -> str:
    method = value.upper()
    if method not in HTTP_METHODS:
        raise ValidationError(field, f"must be GET or POST, not {value!r}")
    return method


def check_url(field: str, value: str, *, required: bool = False) -> str:
    if not value:
        if required:
            raise ValidationError(field, "required")
        return ""
    if not value.startswith(("http://", "https://")):
        raise ValidationError(field, f"must be an http:// or https:// URL, not {value!r}")
    return value


def check_non_negative(field: str, value: int) -> int:
    if value < 0:
        raise ValidationError(field, "must be 0 or more")
    return value


def validate_application(app: Application) -> Application:
    """The application with methods upper-cased; raises on the first bad field."""
    if not app.app_name.strip():
        raise ValidationError("app_name", "required")
    check_url("answer_url", app.answer_url, required=True)
    for name in ("fallback_answer_url", "hangup_url", "message_url", "status_callback_url"):
        check_url(name, getattr(app, name))
    if app.dialect not in DIALECTS:
        allowed = "plivo, twiml, voxml or empty"
        raise ValidationError("dialect", f"must be one of {allowed}, not {app.dialect!r}")
    check_non_negative("max_concurrent_calls", app.max_concurrent_calls)
    return _with_methods(app)


def _with_methods(app: Application) -> Application:
    methods = (
        "answer_method",
        "fallback_method",
        "hangup_method",
        "message_method",
        "status_callback_method",
    )
    checked: dict[str, Any] = {name: check_method(name, getattr(app, name)) for name in methods}
    return replace(app, **checked)


def validate_block_rule(rule: BlockRule) -> BlockRule:
    """The rule with its pattern and scope number normalised."""
    if rule.reason not in REJECT_REASONS:
        raise ValidationError("reason", f"must be one of {', '.join(REJECT_REASONS)}")
    if rule.number and rule.app_id:
        raise ValidationError("number", "give either number or app_id, not both")
    pattern = _check_pattern(rule.match, rule.pattern)
    number = normalise_number(rule.number) if rule.number else None
    return replace(rule, pattern=pattern, number=number, app_id=rule.app_id or None)


def _check_pattern(match: BlockMatch, pattern: str) -> str:
    if match is BlockMatch.ANONYMOUS:
        return ""
    digits = _NUMBER_NOISE.sub("", pattern)
    if not _PATTERN_DIGITS.fullmatch(digits):
        raise ValidationError("pattern", f"must be 1-15 digits, not {pattern!r}")
    return digits


def parse_match(value: str) -> BlockMatch:
    try:
        return BlockMatch(value)
    except ValueError:
        raise ValidationError("match", "must be exact, prefix or anonymous") from None


_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
MIN_PASSWORD = 8
MAX_RATE = 1_000_000
USAGE_PERIODS = frozenset({"day", "month"})


def check_username(username: str) -> str:
    """A SIP user part: 1-64 letters, digits, ``_ . -``, starting with a letter or digit."""
    if not _USERNAME.fullmatch(username):
        raise ValidationError(
            "username", "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError("password", f"must be at least {MIN_PASSWORD} characters")
    return password


def check_name(field: str, value: str, limit: int = 200) -> str:
    name = value.strip()
    if not name:
        raise ValidationError(field, "required")
    if len(name) > limit:
        raise ValidationError(field, f"at most {limit} characters")
    return name


def check_rate(value: str) -> str:
    """A non-negative decimal price per minute, kept as a string."""
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValidationError(
            "rate_per_minute", f"must be a decimal number, not {value!r}"
        ) from None
    if not rate.is_finite() or not 0 <= rate < MAX_RATE:
        raise ValidationError("rate_per_minute", f"must be 0 or more and below {MAX_RATE}")
    return f"{rate:.5f}"
