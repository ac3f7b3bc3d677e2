"""A captured :class:`~callplane.calls.trace.CallTrace` as the API's trace document
(docs/api.md, "Call inspector") and as a text export of its SIP messages.

This runs once per kept trace, when the call ends, never while messages pass.
Credentials are redacted here: an ``Authorization`` or ``Proxy-Authorization``
header keeps its scheme and username (and the realm, URI and algorithm) and loses
the digest response, nonces, count and opaque value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from callplane.calls.call_quality import quality_of
from callplane.calls.trace import Attempt, CallTrace, SipCapture, WebhookCapture

_CREDENTIALS = re.compile(
    rb"^((?:proxy-)?authorization[ \t]*:[ \t]*)([^\r\n]*)(?=\r?\n|\Z)", re.IGNORECASE | re.MULTILINE
)
_KEPT_PARAMS = ("username", "realm", "uri", "algorithm")
_PARAM = re.compile(r'([A-Za-z-]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^,\s]+)')


def iso(seconds: float) -> str:
    """Wall-clock ``seconds`` as ``2026-12-03T15:00:00.123Z``."""
    stamp = datetime.fromtimestamp(seconds, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def redact(data: bytes) -> bytes:
    """``data`` with the secrets of its credentials headers removed."""
    if b"uthorization" not in data and b"UTHORIZATION" not in data:
        return data
    return _CREDENTIALS.sub(_redacted_header, data)


def _redacted_header(match: re.Match[bytes]) -> bytes:
    value = match.group(2).decode("utf-8", "replace")
    scheme, _, rest = value.strip().partition(" ")
    kept = [f"{name}={raw}" for name, raw in _PARAM.findall(rest) if name.lower() in _KEPT_PARAMS]
    shown = f"{scheme} {', '.join(kept)}" if kept else scheme
    return match.group(1) + f"{shown} [credentials redacted]".encode()


def render(
    trace: CallTrace, call_uuid: str, mode: str, notes: list[dict[str, str]]
) -> dict[str, Any]:
    """The trace document of ``call_uuid``; ``notes`` are its call record's events."""
    started = trace.started or 0.0

    def ms(at: float | None) -> float | None:
        return None if at is None else round(max(0.0, (at - started) * 1000), 3)

    return {
        "call_uuid": call_uuid,
        "mode": mode,
        "started_at": iso(started) if trace.started is not None else None,
        "truncated": trace.truncated,
        "parties": [_party(p) for p in _ordered(trace)],
        "sip": [_sip(m, ms(m.at) or 0.0) for m in trace.sip],
        "webhooks": [_webhook(w, ms) for w in trace.webhooks],
        "verbs": [
            {"name": v.name, "start_ms": ms(v.start), "end_ms": ms(v.end), "detail": v.detail}
            for v in trace.verbs
        ],
        "quality": [quality_of(party, stats) for party, stats in trace.quality.items()],
        "notes": [_note(n, ms) for n in notes],
        "problems": [
            {"t_ms": ms(p.at), "level": p.level, "kind": p.kind, "message": p.message}
            for p in trace.problems
        ],
    }


def sip_text(document: dict[str, Any]) -> str:
    """The SIP messages of a trace document, sngrep-like: one header line per message
    (time, source -> destination, transport), the message, a blank line."""
    blocks = [
        f"{m['at']} {m['src']} -> {m['dst']} ({m['transport']})\n{m['text'].rstrip()}\n"
        for m in document["sip"]
    ]
    return "\n".join(blocks)


def _ordered(trace: CallTrace) -> list[Any]:
    first = [trace.parties[p] for p in ("caller", "callplane") if p in trace.parties]
    return first + [p for p in trace.parties.values() if p not in first]


def _party(party: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": party.id, "label": party.label, "address": party.address}
    if party.call_uuid is not None:
        shown["call_uuid"] = party.call_uuid
    return shown


def _address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _sip(message: SipCapture, t_ms: float) -> dict[str, Any]:
    data = redact(message.data)
    text = data.decode("utf-8", "replace")
    head, _, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    first = lines[0]
    headers = _headers(lines[1:])
    method: str | None
    status: int | None = None
    if first.startswith("SIP/2.0 "):
        code, _, reason = first[8:].partition(" ")
        status = int(code) if code.isdigit() else None
        label = f"{code} {reason}".strip()
        method = headers.get("cseq", "").partition(" ")[2].strip() or None
    else:
        method = first.partition(" ")[0]
        label = method
    far, near = message.party, "callplane"
    inbound = message.direction == "in"
    return {
        "t_ms": t_ms,
        "at": iso(message.at),
        "from": far if inbound else near,
        "to": near if inbound else far,
        "direction": message.direction,
        "transport": message.transport.lower(),
        "src": _address(message.src),
        "dst": _address(message.dst),
        "label": label,
        "method": method,
        "status": status,
        "call_id": headers.get("call-id", ""),
        "cseq": headers.get("cseq", ""),
        "text": text,
    }


_COMPACT = {"i": "call-id"}


def _headers(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        found.setdefault(_COMPACT.get(key, key), value.strip())
    return found


def _webhook(capture: WebhookCapture, ms: Any) -> dict[str, Any]:
    return {
        "t_ms": ms(capture.at),
        "kind": capture.kind,
        "method": capture.method,
        "url": capture.url,
        "params": _params(capture),
        "signed": capture.signed,
        "attempts": [_attempt(a, ms) for a in capture.attempts],
        "outcome": capture.outcome,
    }


def _params(capture: WebhookCapture) -> Any:
    if capture.form:
        return {k: v[0] if len(v) == 1 else v for k, v in capture.form.items()}
    if capture.body and "json" in capture.content_type:
        try:
            return json.loads(capture.body)
        except ValueError:
            pass
    return {}


def _attempt(attempt: Attempt, ms: Any) -> dict[str, Any]:
    return {
        "t_ms": ms(attempt.at),
        "latency_ms": round(attempt.latency * 1000, 3),
        "status": attempt.status,
        "error": attempt.error,
        "content_type": attempt.content_type,
        "body": attempt.body.decode("utf-8", "replace"),
        "body_truncated": attempt.body_truncated,
    }


def _note(note: dict[str, str], ms: Any) -> dict[str, Any]:
    try:
        at = datetime.fromisoformat(note["time"]).replace(tzinfo=UTC).timestamp()
    except (KeyError, ValueError):
        at = None
    return {"t_ms": ms(at), "level": note.get("level", "info"), "message": note.get("message", "")}
