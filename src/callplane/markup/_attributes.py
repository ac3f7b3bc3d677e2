"""Attribute tables shared by the dialect compilers.

A *converter* turns one raw value (an XML attribute string, or a JSON value)
into the verb field's value, or raises ``ValueError`` whose text describes the
allowed values. A *spec* maps each attribute name a dialect allows to
``(field name, converter)``; :func:`convert_attributes` applies it and turns
every problem into a :class:`MarkupError` naming element, attribute and the
allowed values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from callplane.errors import MarkupError
from callplane.reject_reasons import RejectReason

Converter = Callable[[object], Any]
Spec = Mapping[str, tuple[str, Converter]]

_UNSIGNED = re.compile(r"[0-9]{1,9}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DTMF_KEYS = "0123456789*#"
SEND_DIGIT_KEYS = "0123456789*#ABCDabcdwW"


def text(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("a string")
    return raw


def url(raw: object) -> str:
    return text(raw).strip()


def websocket_url(raw: object) -> str:
    value = url(raw)
    if not value.lower().startswith(("ws://", "wss://")) or len(value) <= len("wss://"):
        raise ValueError("a ws:// or wss:// URL")
    return value


STREAM_CONTENT_TYPES = (
    "audio/x-l16;rate=8000",
    "audio/x-l16;rate=16000",
    "audio/x-mulaw;rate=8000",
)


def stream_content_type(raw: object) -> str:
    value = text(raw).replace(" ", "")
    if value not in STREAM_CONTENT_TYPES:
        raise ValueError(", ".join(STREAM_CONTENT_TYPES))
    return value


def integer(low: int = 0, high: int | None = None) -> Callable[[object], int]:
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"

    def convert(raw: object) -> int:
        value = _as_int(raw)
        if value is None or value < low or (high is not None and value > high):
            raise ValueError(allowed)
        return value

    return convert


def _as_int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _UNSIGNED.fullmatch(raw.strip()):
        return int(raw.strip())
    return None


def seconds_or_auto(low: int, high: int | None = None) -> Callable[[object], int | None]:
    """An integer number of seconds, or ``"auto"`` (returned as ``None``)."""
    as_int = integer(low, high)

    def convert(raw: object) -> int | None:
        if raw == "auto":
            return None
        try:
            return as_int(raw)
        except ValueError as exc:
            raise ValueError(f"{exc}, or auto") from None

    return convert


def milliseconds(raw: object) -> float:
    """Milliseconds in the document, seconds in the verb."""
    return integer(1)(raw) / 1000


def boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("true, false")


def method(raw: object) -> str:
    if isinstance(raw, str) and raw.strip().upper() in ("GET", "POST"):
        return raw.strip().upper()
    raise ValueError("GET, POST")


def choice(*values: str) -> Callable[[object], str]:
    def convert(raw: object) -> str:
        if isinstance(raw, str) and raw in values:
            return raw
        raise ValueError(", ".join(values))

    return convert


def reject_reason(raw: object) -> RejectReason:
    allowed = [reason.value for reason in RejectReason]
    if isinstance(raw, str) and raw in allowed:
        return RejectReason(raw)
    raise ValueError(", ".join(allowed))


def keys(allowed: str = DTMF_KEYS, *, single: bool = False) -> Callable[[object], str]:
    """DTMF keys from ``allowed``; ``""`` or ``"none"`` mean no key."""
    what = "one of" if single else "any of"
    description = f"{what} {' '.join(allowed)}, or none"

    def convert(raw: object) -> str:
        value = text(raw).strip()
        if value == "none":
            return ""
        if (single and len(value) > 1) or any(key not in allowed for key in value):
            raise ValueError(description)
        return value

    return convert


def sip_headers(raw: object) -> dict[str, str]:
    """``"Name=value,Other=value"`` (XML) or a JSON object of strings."""
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, str):
        pairs = [_split_header(item) for item in raw.split(",") if item.strip()]
    else:
        raise ValueError("name=value pairs separated by commas")
    return {_header_name(name): _header_value(value) for name, value in pairs}


def _split_header(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError("name=value pairs separated by commas")
    return name.strip(), value.strip()


def _header_name(name: object) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError("header names of letters, digits, '-', '_' and '.'")
    return name


def _header_value(value: object) -> str:
    if not isinstance(value, str) or any(ch in value for ch in "\r\n"):
        raise ValueError("header values as single-line strings")
    return value


def same_names(**converters: Converter) -> dict[str, tuple[str, Converter]]:
    """A spec whose attribute names are the verb's field names (VoXML)."""
    return {name: (name, convert) for name, convert in converters.items()}


def convert_attributes(element: str, attrs: Mapping[str, object], spec: Spec) -> dict[str, Any]:
    """Apply ``spec`` to ``attrs``; unknown attributes and bad values raise MarkupError."""
    fields: dict[str, Any] = {}
    for name, raw in attrs.items():
        if name not in spec:
            allowed = ", ".join(sorted(spec)) or "none"
            raise MarkupError(f"unknown attribute; allowed: {allowed}", element, name)
        field_name, convert = spec[name]
        fields[field_name] = convert_value(element, name, raw, convert)
    return fields


def convert_value(element: str, name: str | None, raw: object, convert: Converter) -> Any:
    """``convert(raw)``, with a ValueError turned into a MarkupError naming the culprit."""
    try:
        return convert(raw)
    except ValueError as exc:
        raise MarkupError(f"invalid value {_show(raw)}; allowed: {exc}", element, name) from exc


def _show(raw: object) -> str:
    shown = repr(raw) if isinstance(raw, str | int | float | bool) else type(raw).__name__
    return shown if len(shown) <= 80 else shown[:77] + "..."
