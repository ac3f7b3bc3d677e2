from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plivo.utils import validate_signature, validate_v3_signature
from recording_server import DOCUMENT, Recorded, Recorder, Reply

from callplane.errors import WebhookError
from callplane.webhooks import WebhookClient
from callplane.webhooks.client import form_encode
from callplane.webhooks.ssrf import Reach

TOKEN = "MzQ5ZjVlYjQ0ZmU2N2YwOTg1NmNmYjQ2ZWY0ZmUz"
MAIN_TOKEN = "OTkwMDJhYmM0NTYxMjM0NTY3ODkwYWJjZGVmMDEy"
PARAMS = {"CallUUID": "c0ffee", "From": "14155550100", "To": "14155550199", "Note": "a&b c"}


def _v3_valid(server: Recorder, seen: Recorded, params: dict | None, token: str = TOKEN) -> bool:
    header = "x-plivo-signature-v3" if token == TOKEN else "x-plivo-signature-ma-v3"
    nonce = seen.headers["x-plivo-signature-v3-nonce"]
    url = server.url(seen.path)
    return validate_v3_signature(seen.method, url, nonce, token, seen.headers[header], params)


def _v2_valid(server: Recorder, seen: Recorded) -> bool:
    nonce = seen.headers["x-plivo-signature-v2-nonce"]
    signature = seen.headers["x-plivo-signature-v2"]
    return validate_signature(server.url(seen.path), nonce, signature, TOKEN)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_post_sends_signed_form(server: Recorder, client: WebhookClient) -> None:
    response = await client.fetch(server.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert (response.status, response.body) == (200, DOCUMENT)
    assert response.content_type == "application/xml"
    assert response.url == server.url("/answer")
    [seen] = server.seen("/answer")
    assert seen.method == "POST"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["user-agent"] == "Callplane"
    form = parse_qs(seen.body.decode(), keep_blank_values=True)
    assert form == {k: [v] for k, v in PARAMS.items()}
    assert _v3_valid(server, seen, form)
    assert _v2_valid(server, seen)


async def test_post_to_url_with_query(server: Recorder, client: WebhookClient) -> None:
    await client.fetch(
        server.url("/answer?app=7&app=3"), "post", PARAMS, TOKEN, reach=Reach.PRIVATE
    )
    [seen] = server.seen("/answer")
    assert seen.path == "/answer?app=7&app=3"
    assert _v3_valid(server, seen, parse_qs(seen.body.decode()))
    assert _v2_valid(server, seen)


async def test_get_puts_params_in_query(server: Recorder, client: WebhookClient) -> None:
    await client.fetch(server.url("/answer?app=7"), "GET", PARAMS, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/answer")
    assert seen.method == "GET"
    assert seen.body == b""
    query = parse_qs(seen.path.partition("?")[2])
    assert query == {"app": ["7"], **{k: [v] for k, v in PARAMS.items()}}
    assert _v3_valid(server, seen, None)
    assert _v2_valid(server, seen)


async def test_get_with_repeated_params(server: Recorder, client: WebhookClient) -> None:
    params = {"Tag": ["b", "a"], "CallUUID": "x"}
    await client.fetch(server.url("/answer?CallUUID=y"), "GET", params, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/answer")
    assert parse_qs(seen.path.partition("?")[2]) == {"CallUUID": ["y", "x"], "Tag": ["b", "a"]}
    assert _v3_valid(server, seen, None)


async def test_post_with_repeated_params(server: Recorder, client: WebhookClient) -> None:
    await client.fetch(
        server.url("/answer"), "POST", {"Tag": ["b", "a"]}, TOKEN, reach=Reach.PRIVATE
    )
    [seen] = server.seen("/answer")
    assert _v3_valid(server, seen, parse_qs(seen.body.decode()))


async def test_sub_account_main_signature(server: Recorder, client: WebhookClient) -> None:
    await client.fetch(
        server.url("/answer"),
        "POST",
        PARAMS,
        TOKEN,
        main_auth_token=MAIN_TOKEN,
        reach=Reach.PRIVATE,
    )
    [seen] = server.seen("/answer")
    form = parse_qs(seen.body.decode())
    assert _v3_valid(server, seen, form)
    assert _v3_valid(server, seen, form, token=MAIN_TOKEN)


async def test_non_2xx_raises_with_status(server: Recorder, client: WebhookClient) -> None:
    server.plan("/answer", Reply(status=404, body=b"nope"))
    with pytest.raises(WebhookError) as caught:
        await client.fetch(server.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status == 404
    assert caught.value.url == server.url("/answer")


async def test_action_url_is_not_retried_by_default(
    server: Recorder, client: WebhookClient
) -> None:
    server.plan("/answer", Reply(status=503), Reply())
    with pytest.raises(WebhookError) as caught:
        await client.fetch(server.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status == 503
    assert len(server.seen("/answer")) == 1


async def test_read_timeout_from_fragment(server: Recorder, client: WebhookClient) -> None:
    server.plan("/slow", Reply(delay=1.0))
    started = time.monotonic()
    # the call inspector files it as a webhook_timeout by these words (calls/tracer.py)
    with pytest.raises(WebhookError, match="no response: read timeout") as caught:
        await client.fetch(server.url("/slow#rt=200"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None
    assert time.monotonic() - started < 0.8


async def test_total_timeout_from_fragment(server: Recorder, client: WebhookClient) -> None:
    server.plan("/slow", Reply(delay=1.0))
    started = time.monotonic()
    with pytest.raises(WebhookError, match="total timeout") as caught:
        await client.fetch(
            server.url("/slow#rt=5000&tt=300"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
        )
    assert caught.value.status is None
    assert time.monotonic() - started < 0.8


async def test_default_timeout_parameter(server: Recorder, client: WebhookClient) -> None:
    server.plan("/slow", Reply(delay=1.0))
    started = time.monotonic()
    with pytest.raises(WebhookError):
        await client.fetch(server.url("/slow"), "GET", {}, TOKEN, timeout=0.3, reach=Reach.PRIVATE)
    assert time.monotonic() - started < 0.8


async def test_connection_refused(client: WebhookClient) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/answer"
    with pytest.raises(WebhookError, match="cannot connect") as caught:
        await client.fetch(url, "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, Exception)


async def test_fragment_retries_counted_at_server(server: Recorder, client: WebhookClient) -> None:
    server.plan("/answer", Reply(status=500), Reply(status=502), Reply())
    response = await client.fetch(
        server.url("/answer#rc=2&rp=ct,5xx"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
    )
    assert response.status == 200
    seen = server.seen("/answer")
    assert len(seen) == 3
    assert len({s.headers["x-plivo-signature-v3-nonce"] for s in seen}) == 3
    assert all(_v3_valid(server, s, parse_qs(s.body.decode())) for s in seen)


async def test_retries_stop_at_retry_count(server: Recorder, client: WebhookClient) -> None:
    server.default = Reply(status=500)
    with pytest.raises(WebhookError) as caught:
        await client.fetch(
            server.url("/answer#rc=2&rp=all"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
        )
    assert caught.value.status == 500
    assert len(server.seen("/answer")) == 3


async def test_failures_outside_retry_policy_not_retried(
    server: Recorder, client: WebhookClient
) -> None:
    server.plan("/answer", Reply(status=500), Reply())
    with pytest.raises(WebhookError):
        await client.fetch(
            server.url("/answer#rc=3&rp=ct,rt"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
        )
    assert len(server.seen("/answer")) == 1


async def test_read_timeout_retried_when_asked(server: Recorder, client: WebhookClient) -> None:
    server.plan("/slow", Reply(delay=0.6), Reply())
    response = await client.fetch(
        server.url("/slow#rt=150&rc=1&rp=rt"), "GET", {}, TOKEN, reach=Reach.PRIVATE
    )
    assert response.status == 200
    assert len(server.seen("/slow")) == 2


async def test_body_size_is_capped(server: Recorder, outbox: object) -> None:
    server.plan("/big", Reply(body=b"x" * 2048))
    small = WebhookClient(max_body=1024)
    try:
        with pytest.raises(WebhookError, match="body over"):
            await small.fetch(server.url("/big"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    finally:
        await small.aclose()


async def test_concurrent_fetches_share_the_pool(server: Recorder) -> None:
    client = WebhookClient(max_connections=16)
    try:
        calls = [
            client.fetch(server.url(f"/c?n={n}"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
            for n in range(64)
        ]
        responses = await asyncio.gather(*calls)
    finally:
        await client.aclose()
    assert [r.status for r in responses] == [200] * 64
    assert len(server.seen("/c")) == 64


async def test_bad_method_is_a_programming_error(client: WebhookClient) -> None:
    with pytest.raises(ValueError, match="GET or POST"):
        await client.fetch("http://127.0.0.1:1/x", "PUT", {}, TOKEN, reach=Reach.PRIVATE)


async def test_notify_form_delivered(server: Recorder, client: WebhookClient) -> None:
    ok = await client.notify(
        server.url("/hangup"), "POST", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE
    )
    assert ok
    [seen] = server.seen("/hangup")
    assert _v3_valid(server, seen, parse_qs(seen.body.decode()))


async def test_notify_json_body(server: Recorder, client: WebhookClient) -> None:
    event = {"event": "call-rejected", "CallUUID": "c0ffee", "Details": {"Reason": "busy"}}
    ok = await client.notify(
        server.url("/status?acct=1"),
        "POST",
        None,
        TOKEN,
        auth_id="MA1",
        json_body=event,
        reach=Reach.PRIVATE,
    )
    assert ok
    [seen] = server.seen("/status")
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == event
    assert _v3_valid(server, seen, None)
    assert _v2_valid(server, seen)


async def test_notify_json_requires_post(client: WebhookClient) -> None:
    with pytest.raises(ValueError, match="POST"):
        await client.notify(
            "http://127.0.0.1:1/x",
            "GET",
            None,
            TOKEN,
            auth_id="MA1",
            json_body={},
            reach=Reach.PRIVATE,
        )


async def test_notify_retries_per_policy_then_delivers(
    server: Recorder, client: WebhookClient
) -> None:
    server.plan("/hangup", Reply(status=503), Reply())
    url = server.url("/hangup#rc=1&rp=5xx")
    assert await client.notify(url, "POST", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE)
    assert len(server.seen("/hangup")) == 2


async def test_notify_refused_goes_to_outbox(client: WebhookClient, outbox: object) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hangup#ct=500"
    assert not await client.notify(url, "GET", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE)
    [cb] = client.outbox.all()  # type: ignore[attr-defined]
    assert cb.method == "GET"
    assert cb.attempts == 2  # Plivo's default: one retry on connect failure
    assert cb.url.endswith("#ct=500")
    assert "CallUUID=c0ffee" in cb.url


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.lists(st.text(max_size=20), max_size=3),
        max_size=6,
    )
)
def test_form_encoding_is_urlencode_byte_for_byte(form: dict[str, list[str]]) -> None:
    assert form_encode(form) == urlencode(form, doseq=True)


def test_form_encoding_of_a_typical_callback() -> None:
    form = {
        "CallUUID": ["d6a4b2a6-3f8e"],
        "From": ["+14155550100"],
        "CallerName": ["sipp user"],
        "SessionStart": ["2026-12-03 19:00:00.123456"],
        "Empty": [""],
        "Täst &=": ["ä+b", "c/d?e#f"],
    }
    assert form_encode(form) == urlencode(form, doseq=True)
