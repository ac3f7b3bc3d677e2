from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import parse_qs

from plivo.utils import validate_v3_signature
from recording_server import Recorder, Reply

from callplane.store.models import PendingCallback
from callplane.webhooks import MemoryOutbox, OutboxWorker, SigningKeys, WebhookClient
from callplane.webhooks.outbox import backoff_delay, utcnow
from callplane.webhooks.ssrf import Reach

TOKEN = "MzQ5ZjVlYjQ0ZmU2N2YwOTg1NmNmYjQ2ZWY0ZmUz"
PARAMS = {"CallUUID": "c0ffee", "CallStatus": "completed"}


async def _keys(auth_id: str) -> tuple[SigningKeys, Reach] | None:
    return (SigningKeys(TOKEN), Reach.PRIVATE) if auth_id == "MA1" else None


def _worker(client: WebhookClient, **kwargs: float) -> OutboxWorker:
    options = {"interval": 0.02, "base_delay": 0.0, "max_delay": 0.0, **kwargs}
    return OutboxWorker(client, _keys, **options)  # type: ignore[arg-type]


async def _fail_then_park(server: Recorder, client: WebhookClient, **kw: object) -> None:
    server.default = Reply(status=500)
    delivered = await client.notify(
        server.url("/hangup"),
        "POST",
        PARAMS,
        TOKEN,
        auth_id="MA1",
        reach=Reach.PRIVATE,
        **kw,
    )  # type: ignore[arg-type]
    assert not delivered


async def test_failing_callback_is_parked(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    await _fail_then_park(server, client)
    [cb] = outbox.all()
    assert (cb.auth_id, cb.method, cb.url) == ("MA1", "POST", server.url("/hangup"))
    assert parse_qs(cb.body.decode()) == {k: [v] for k, v in PARAMS.items()}
    assert cb.content_type == "application/x-www-form-urlencoded"
    assert cb.attempts == 1  # 5xx is not in Plivo's default retry policy
    assert len(server.seen("/hangup")) == 1


async def test_worker_delivers_once_after_recovery(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    await _fail_then_park(server, client)
    worker = _worker(client)
    assert await worker.run_once() == 0  # still failing: rescheduled
    assert outbox.all()[0].attempts == 2
    server.default = Reply()
    assert await worker.run_once() == 1
    assert len(outbox) == 0
    assert await worker.run_once() == 0
    seen = server.seen("/hangup")
    assert [s.headers.get("x-plivo-signature-v3") is not None for s in seen] == [True] * 3
    assert seen[-1].body == seen[0].body
    assert (
        seen[-1].headers["x-plivo-signature-v3-nonce"]
        != seen[0].headers["x-plivo-signature-v3-nonce"]
    )
    last = seen[-1]
    assert validate_v3_signature(
        "POST",
        server.url(last.path),
        last.headers["x-plivo-signature-v3-nonce"],
        TOKEN,
        last.headers["x-plivo-signature-v3"],
        parse_qs(last.body.decode()),
    )


async def test_worker_task_drains_without_duplicates(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    await _fail_then_park(server, client, json_body={"event": "call-rejected"})
    server.default = Reply()
    worker = _worker(client)
    worker.start()
    try:
        for _ in range(100):
            if not len(outbox):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # more passes: nothing is sent again
    finally:
        await worker.stop()
    assert not worker.running
    assert len(outbox) == 0
    seen = server.seen("/hangup")
    assert len(seen) == 2  # the failed try and one delivery
    assert seen[1].headers["content-type"] == "application/json"
    assert json.loads(seen[1].body) == {"event": "call-rejected"}


async def test_reschedule_backs_off(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    await _fail_then_park(server, client)
    worker = _worker(client, base_delay=30.0, max_delay=3600.0)
    now = utcnow()
    await worker.run_once(now)
    [cb] = outbox.all()
    assert cb.next_attempt == now + timedelta(seconds=60)
    assert await worker.run_once(now + timedelta(seconds=59)) == 0
    assert len(server.seen("/hangup")) == 2


async def test_too_old_callbacks_are_dropped(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    await _fail_then_park(server, client)
    server.default = Reply()
    worker = _worker(client, max_age=60.0)
    await worker.run_once(utcnow() + timedelta(seconds=61))
    assert len(outbox) == 0
    assert len(server.seen("/hangup")) == 1


async def test_unknown_account_is_dropped(server: Recorder, outbox: MemoryOutbox) -> None:
    client = WebhookClient(outbox=outbox, outbox_delay=0.0)
    try:
        server.default = Reply(status=500)
        await client.notify(
            server.url("/h"), "POST", PARAMS, TOKEN, auth_id="MA-gone", reach=Reach.PRIVATE
        )
        await _worker(client).run_once()
    finally:
        await client.aclose()
    assert len(outbox) == 0


async def test_memory_outbox_orders_and_limits() -> None:
    outbox = MemoryOutbox()
    now = utcnow()
    for i, offset in enumerate([5, -10, -20, -5]):
        due = now + timedelta(seconds=offset)
        cb = PendingCallback(str(i), "MA1", "http://127.0.0.1/x", "GET", b"", "", {}, 1, due, now)
        await outbox.save(cb)
    assert [cb.callback_id for cb in await outbox.due(now, 2)] == ["2", "1"]
    await outbox.reschedule("2", 4, now + timedelta(seconds=1))
    assert [cb.callback_id for cb in await outbox.due(now, 10)] == ["1", "3"]
    await outbox.delete("1")
    assert len(outbox) == 3


def test_backoff_delay() -> None:
    assert [backoff_delay(n, 30, 3600) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


async def test_callback_is_in_the_outbox_before_its_first_attempt(
    server: Recorder, client: WebhookClient, outbox: MemoryOutbox
) -> None:
    server.default = Reply(delay=0.2)
    sending = asyncio.create_task(
        client.notify(
            server.url("/hangup"), "POST", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE
        )
    )
    while not server.seen("/hangup"):
        await asyncio.sleep(0.01)
    [cb] = outbox.all()  # a crash now would leave it to the next process
    assert (cb.attempts, cb.url) == (0, server.url("/hangup"))
    assert cb.created and cb.next_attempt >= cb.created + timedelta(seconds=55)  # not due yet
    assert await sending
    assert len(outbox) == 0  # delivered: deleted
