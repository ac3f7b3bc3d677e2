"""The call inspector's pure parts: the bounded recorder, its rendering, redaction,
the MOS estimate, and the tracer's Call-ID index; plus the store's trace rows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callplane.calls.call_quality import estimate_mos, quality_of
from callplane.calls.records import RecordWriter
from callplane.calls.trace import EVENT_OVERHEAD, CallTrace, Party
from callplane.calls.trace_render import redact, render, sip_text, snapshot
from callplane.calls.tracer import UNCLAIMED_TTL, Tracer, _webhook_problems, call_id_of
from callplane.net.rtp_session import RtpSessionStats
from callplane.store import Store
from callplane.store.models import DebuggerEvent, StoredTrace

CALLER = ("127.0.0.1", 5070)
US = ("127.0.0.1", 5060)


def invite(call_id: str = "abc@host", extra: str = "") -> bytes:
    return (
        "INVITE sip:15550001111@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def response(code: str, call_id: str = "abc@host", method: str = "INVITE") -> bytes:
    return (
        f"SIP/2.0 {code}\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


STATS = RtpSessionStats(
    local_port=20000,
    remote=CALLER,
    packets_sent=150,
    octets_sent=24000,
    packets_received=99,
    packets_lost=1,
    jitter_ms=2.0,
    packets_late=0,
    ignored_packets=0,
    malformed_packets=0,
    unknown_payload_packets=0,
    dtmf_received=0,
    rtcp_sent=1,
    rtcp_received=1,
    remote_fraction_lost=0.0,
    remote_jitter_ms=1.0,
    round_trip_ms=40.0,
    remote_bye=False,
)


def test_the_recorder_drops_events_past_its_size_and_says_so() -> None:
    message = invite()
    trace = CallTrace(max_bytes=2 * (len(message) + EVENT_OVERHEAD))
    for _ in range(3):
        trace.sip_message("in", "UDP", CALLER, US, message, b"abc@host")
    assert len(trace.sip) == 2 and trace.truncated
    assert trace.size <= trace.max_bytes
    assert trace.verb_started("Speak") is None  # no room left for anything
    trace.problem("error", "invalid_document", "kept past the limit: the Debugger needs it")
    assert len(trace.problems) == 1


def test_webhook_bodies_are_kept_up_to_16_kib() -> None:
    trace = CallTrace()
    watch = trace.request(
        "answer", "POST", "http://127.0.0.1/a", {"CallUUID": ["u"]}, b"", "", True
    )
    assert watch is not None
    watch.attempt(1.0, 0.25, 200, None, "application/xml", b"x" * 20000)
    watch.done("ok")
    document = render(snapshot(trace, "u", "all", []))
    attempt = document["webhooks"][0]["attempts"][0]
    assert len(attempt["body"]) == 16 * 1024 and attempt["body_truncated"]
    assert attempt["latency_ms"] == 250.0
    assert document["webhooks"][0]["params"] == {"CallUUID": "u"}


def test_render_orders_messages_and_names_their_parties() -> None:
    trace = CallTrace()
    trace.add_party(Party("caller", "Caller", "127.0.0.1:5070"), b"abc@host")
    trace.add_party(Party("callplane", "Callplane", "127.0.0.1:5060"))
    trace.sip_message("in", "UDP", CALLER, US, invite(), b"abc@host")
    trace.sip_message("out", "UDP", US, CALLER, response("603 Decline"), b"abc@host")
    document = render(snapshot(trace, "u", "failed", []))
    assert [p["id"] for p in document["parties"]] == ["caller", "callplane"]
    first, second = document["sip"]
    assert (first["from"], first["to"], first["label"]) == ("caller", "callplane", "INVITE")
    assert (second["from"], second["to"], second["label"]) == ("callplane", "caller", "603 Decline")
    assert second["status"] == 603 and second["method"] == "INVITE" and second["cseq"] == "1 INVITE"
    assert first["t_ms"] == 0.0 and second["t_ms"] >= 0.0
    assert document["started_at"].endswith("Z") and first["src"] == "127.0.0.1:5070"
    text = sip_text(document)
    assert "127.0.0.1:5070 -> 127.0.0.1:5060 (udp)\nINVITE sip:" in text
    assert "\n\n" in text  # messages are separated by a blank line


def test_an_invite_error_response_from_a_leg_marks_the_trace_failed() -> None:
    trace = CallTrace()
    trace.sip_message("in", "UDP", CALLER, US, response("407 Proxy Authentication Required"), b"x")
    trace.sip_message("in", "UDP", CALLER, US, response("487 Request Terminated"), b"x")
    trace.sip_message("in", "UDP", CALLER, US, response("486 Busy Here", method="BYE"), b"x")
    assert not trace.sip_failed
    trace.sip_message("in", "UDP", CALLER, US, response("486 Busy Here"), b"x")
    assert trace.sip_failed


@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization", "authorization"])
def test_digest_credentials_are_redacted(name: str) -> None:
    header = (
        f'{name}: Digest username="alice", realm="r.example", nonce="n0nce", '
        'uri="sip:bob@r.example", response="0123456789abcdef0123456789abcdef", '
        'algorithm=MD5, cnonce="c1", qop=auth, nc=00000001\r\n'
    )
    shown = redact(invite(extra=header)).decode()
    line = next(x for x in shown.split("\r\n") if x.lower().startswith(name.lower()))
    assert line.startswith(f'{name}: Digest username="alice", realm="r.example"')
    for secret in ("n0nce", "0123456789abcdef", 'cnonce="c1"', "nc=00000001"):
        assert secret not in shown
    assert "Call-ID: abc@host" in shown  # the rest of the message is left alone


def test_a_message_without_credentials_is_not_copied() -> None:
    message = invite()
    assert redact(message) is message


def test_the_mos_estimate_follows_the_simplified_e_model() -> None:
    perfect = estimate_mos(0.0, 0.0, None)
    assert 4.3 <= perfect <= 4.5
    assert estimate_mos(1.0, 0.0, None) < perfect
    assert estimate_mos(5.0, 0.0, None) == pytest.approx(4.04, abs=0.02)
    assert estimate_mos(0.0, 0.0, 600.0) < estimate_mos(0.0, 0.0, 100.0)
    assert estimate_mos(0.0, 80.0, None) < estimate_mos(0.0, 5.0, None)
    assert estimate_mos(50.0, 100.0, 800.0) == 1.0


def test_quality_of_a_leg() -> None:
    shown = quality_of("caller", STATS)
    assert shown["packets_sent"] == 150 and shown["packets_received"] == 99
    assert shown["lost"] == 1 and shown["rtt_ms"] == 40.0
    assert shown["mos"] == estimate_mos(1.0, 2.0, 40.0)
    silent = quality_of("b1", replace(STATS, packets_received=0, packets_lost=0))
    assert silent["mos"] is None


def test_call_ids_are_found_in_full_and_compact_form() -> None:
    assert call_id_of(invite("x1@h")) == b"x1@h"
    assert call_id_of(b"BYE sip:a SIP/2.0\r\ni: short@h\r\n\r\n") == b"short@h"
    assert call_id_of(b"OPTIONS sip:a SIP/2.0\r\n\r\n") is None


def test_the_tap_starts_a_trace_with_an_invite_and_forgets_it_unclaimed() -> None:
    tracer = Tracer("failed")
    tracer.tap("in", "UDP", CALLER, US, b"OPTIONS sip:a SIP/2.0\r\nCall-ID: o@h\r\n\r\n")
    tracer.tap("out", "UDP", US, CALLER, invite("placed@h"))  # not ours to start
    tracer.tap("in", "UDP", CALLER, US, invite())
    tracer.tap("out", "UDP", US, CALLER, response("404 Not Found"))
    assert list(tracer._by_call_id) == [b"abc@host"]
    assert len(tracer._by_call_id[b"abc@host"].sip) == 2
    tracer.sweep(now=tracer._unclaimed[b"abc@host"] + UNCLAIMED_TTL + 1)
    assert not tracer._by_call_id


def test_an_invite_refused_before_it_became_a_call_is_forgotten_at_once() -> None:
    tracer = Tracer("all")
    tracer.tap("in", "UDP", CALLER, US, invite())
    tracer.forget("someone-else@host")
    assert list(tracer._by_call_id) == [b"abc@host"]
    tracer.forget("abc@host")
    assert not tracer._by_call_id and not tracer._unclaimed


async def test_traces_and_debugger_events_ride_in_record_batches(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        account, _ = await store.ensure_main_account()
        writer = RecordWriter(store.write_records, interval=0.01)
        now = datetime.now(UTC)
        old = now - timedelta(days=8)
        trace = StoredTrace("c1", account.auth_id, now, "all", False, '{"call_uuid":"c1"}')
        events = [
            DebuggerEvent("e1", account.auth_id, old, "error", "webhook_timeout", "slow", "c1"),
            DebuggerEvent("e2", account.auth_id, now, "warning", "retries_exhausted", "x", "c1"),
        ]
        writer.put_trace(trace, events)
        writer.start()
        await writer.stop()
        assert await store.get_trace(account.auth_id, "c1") == trace
        assert await store.get_trace("MAother", "c1") is None
        page = await store.list_debugger_events(account.auth_id, filters={})
        assert [e.event_id for e in page.items] == ["e2", "e1"] and page.total == 2
        errors = await store.list_debugger_events(account.auth_id, filters={"level": "error"})
        assert [e.event_id for e in errors.items] == ["e1"]
        await store.delete_traces_before(now - timedelta(days=7))
        left = await store.list_debugger_events(account.auth_id, filters={})
        assert [e.event_id for e in left.items] == ["e2"]
        assert await store.get_trace(account.auth_id, "c1") is not None
    finally:
        await store.close()


def test_failed_webhooks_become_debugger_problems_once_they_are_over() -> None:
    trace = CallTrace()

    def hook(kind: str, *errors: str | None, outcome: str | None = None) -> None:
        watch = trace.request(kind, "POST", f"http://127.0.0.1/{kind}", {}, b"", "", True)
        assert watch is not None
        for error in errors:
            watch.attempt(1.0, 0.5, None if error else 200, error, "", b"")
        if outcome is not None:
            watch.done(outcome)

    hook("answer", "total timeout 1s", outcome="failed")
    hook("fallback", "no response: read timeout", outcome="failed")  # webhooks/client.py's words
    hook("action", "HTTP 500", outcome="failed")
    hook("hangup", "cannot connect", "cannot connect", outcome="queued")
    hook("callback", "HTTP 503")  # still under way when the trace is kept
    hook("fallback", None, outcome="ok")
    found = [(p.kind, p.level) for p in _webhook_problems(trace.webhooks)]
    assert found == [
        ("webhook_timeout", "error"),
        ("webhook_timeout", "error"),
        ("webhook_failed", "error"),
        ("retries_exhausted", "warning"),
    ]


async def test_old_traces_are_deleted_when_the_tracer_starts_tending() -> None:
    asked: list[datetime] = []
    done = asyncio.Event()

    async def delete_before(when: datetime) -> None:
        asked.append(when)
        done.set()

    task = asyncio.create_task(Tracer("off").tend(delete_before, timedelta(days=7)))
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        task.cancel()
    expected = datetime.now(UTC) - timedelta(days=7)
    assert abs(asked[0] - expected) < timedelta(minutes=1)


def test_how_a_call_ends_decides_whether_it_failed() -> None:
    from callplane.calls import causes
    from callplane.calls.tracer import ended_badly

    for ordinary in (
        causes.NORMAL_HANGUP,
        causes.CANCELLED,  # the caller hung up before the answer
        causes.API_CANCEL,
        causes.LOST_RACE,
        causes.BUSY,
        causes.NO_ANSWER,
        causes.NODE_DRAINED,
        causes.TIME_LIMIT,
    ):
        assert not ended_badly(ordinary), ordinary
    for bad in (
        causes.INTERNAL_ERROR,
        causes.ANSWER_URL_FAILED,
        causes.PROCESS_STOPPED,
        causes.NODE_LOST,
        causes.DIAL_TIMEOUT,
        causes.DESTINATION_FAILED,
    ):
        assert ended_badly(bad), bad
