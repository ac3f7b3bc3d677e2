"""A captured :class:`~callplane.calls.trace.CallTrace`, stored and shown.

Two steps, so that the call path pays for the cheap one only:

* :func:`snapshot`, when a call's trace is kept: the capture as compact JSON-able
  lists, with credentials redacted (secrets are never stored). No parsing, no
  time formatting.
* :func:`render`, when the API is asked: the snapshot as the trace document of
  docs/api.md ("Call inspector"); :func:`sip_text` is its text export.

Redaction: an ``Authorization`` or ``Proxy-Authorization`` header keeps its scheme
and username (and the realm, URI and algorithm) and loses the digest response,
nonces, count and opaque value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from callplane.calls.call_quality import quality_of
from callplane.calls.trace import CallTrace, WebhookCapture

SNAPSHOT_VERSION = 1
_CREDENTIALS = re.compile(
    rb"^((?:proxy-)?authorization[ \t]*:[ \t]*)([^\r\n]*)(?=\r?\n|\Z)",
    re.IGNORECASE | re.MULTILINE,
)
_KEPT_PARAMS = ("username", "realm", "uri", "algorithm")
_PARAM = re.compile(r'([A-Za-z-]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^,\s]+)')
_COMPACT = {"i": "call-id"}


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


# -- when a trace is kept -------------------------------------------------------------


def snapshot(
    trace: CallTrace, call_uuid: str, mode: str, notes: list[dict[str, str]]
) -> dict[str, Any]:
    """What is stored of ``trace``: its events as lists, redacted, not yet formatted."""
    return {
        "v": SNAPSHOT_VERSION,
        "call_uuid": call_uuid,
        "mode": mode,
        "truncated": trace.truncated,
        "parties": [[p.id, p.label, p.address, p.call_uuid] for p in trace.parties.values()],
        "sip": [
            [at, direction, transport, *src, *dst, party, redact(data).decode("utf-8", "replace")]
            for at, direction, transport, src, dst, data, party in trace.sip
        ],
        "webhooks": [_webhook_snapshot(w) for w in trace.webhooks],
        "verbs": [[v.name, v.start, v.end, v.detail] for v in trace.verbs],
        "quality": [quality_of(party, stats) for party, stats in trace.quality.items()],
        "notes": notes,
        "problems": [[p.at, p.level, p.kind, p.message] for p in trace.problems],
    }


def _webhook_snapshot(hook: WebhookCapture) -> list[Any]:
    attempts = [
        [a.at, a.latency, a.status, a.error, a.content_type, _text(a.body), a.body_truncated]
        for a in hook.attempts
    ]
    return [
        hook.at,
        hook.kind,
        hook.method,
        hook.url,
        hook.form,
        _text(hook.body),
        hook.content_type,
        hook.signed,
        hook.outcome,
        attempts,
    ]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# -- when the API is asked ------------------------------------------------------------


def render(snap: dict[str, Any]) -> dict[str, Any]:
    """The trace document (docs/api.md) of a stored :func:`snapshot`."""
    times = [e[0] for key in ("sip", "webhooks") for e in snap[key][:1]]
    times += [v[1] for v in snap["verbs"][:1]]
    started = min(times) if times else None
    origin = started or 0.0

    def ms(at: float | None) -> float | None:
        return None if at is None else round(max(0.0, (at - origin) * 1000), 3)

    return {
        "call_uuid": snap["call_uuid"],
        "mode": snap["mode"],
        "started_at": iso(started) if started is not None else None,
        "truncated": snap["truncated"],
        "parties": _parties(snap["parties"]),
        "sip": [_sip(entry, ms) for entry in snap["sip"]],
        "webhooks": [_webhook(entry, ms) for entry in snap["webhooks"]],
        "verbs": [
            {"name": name, "start_ms": ms(start), "end_ms": ms(end), "detail": detail}
            for name, start, end, detail in snap["verbs"]
        ],
        "quality": snap["quality"],
        "notes": [_note(n, ms) for n in snap["notes"]],
        "problems": [
            {"t_ms": ms(at), "level": level, "kind": kind, "message": message}
            for at, level, kind, message in snap["problems"]
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


def _parties(parties: list[list[Any]]) -> list[dict[str, Any]]:
    shown = []
    for pid, label, address, call_uuid in parties:
        party: dict[str, Any] = {"id": pid, "label": label, "address": address}
        if call_uuid is not None:
            party["call_uuid"] = call_uuid
        shown.append(party)
    first = [p for name in ("caller", "callplane") for p in shown if p["id"] == name]
    return first + [p for p in shown if p not in first]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _sip(entry: list[Any], ms: Any) -> dict[str, Any]:
    at, direction, transport, src_host, src_port, dst_host, dst_port, party, text = entry
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
    inbound = direction == "in"
    return {
        "t_ms": ms(at),
        "at": iso(at),
        "from": party if inbound else "callplane",
        "to": "callplane" if inbound else party,
        "direction": direction,
        "transport": transport.lower(),
        "src": _address(src_host, src_port),
        "dst": _address(dst_host, dst_port),
        "label": label,
        "method": method,
        "status": status,
        "call_id": headers.get("call-id", ""),
        "cseq": headers.get("cseq", ""),
        "text": text,
    }


def _headers(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        found.setdefault(_COMPACT.get(key, key), value.strip())
    return found


def _webhook(entry: list[Any], ms: Any) -> dict[str, Any]:
    at, kind, method, url, form, body, content_type, signed, outcome, attempts = entry
    return {
        "t_ms": ms(at),
        "kind": kind,
        "method": method,
        "url": url,
        "params": _params(form, body, content_type),
        "signed": signed,
        "attempts": [_attempt(a, ms) for a in attempts],
        "outcome": outcome,
    }


def _params(form: dict[str, list[str]], body: str, content_type: str) -> Any:
    if form:
        return {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    if body and "json" in content_type:
        try:
            return json.loads(body)
        except ValueError:
            pass
    return {}


def _attempt(attempt: list[Any], ms: Any) -> dict[str, Any]:
    at, latency, status, error, content_type, body, truncated = attempt
    return {
        "t_ms": ms(at),
        "latency_ms": round(latency * 1000, 3),
        "status": status,
        "error": error,
        "content_type": content_type,
        "body": body,
        "body_truncated": truncated,
    }


def _note(note: dict[str, str], ms: Any) -> dict[str, Any]:
    try:
        at = datetime.fromisoformat(note["time"]).replace(tzinfo=UTC).timestamp()
    except (KeyError, ValueError):
        at = None
    return {"t_ms": ms(at), "level": note.get("level", "info"), "message": note.get("message", "")}
