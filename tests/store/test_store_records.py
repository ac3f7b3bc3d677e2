"""Call records (upsert, listing, crash recovery) and the callback outbox."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from callplane.store import Store
from callplane.store.models import Account, CallRecord, PendingCallback
from callplane.store.outbox import OutboxChanges

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _record(account: Account, call_uuid: str, minute: int = 0, **fields: Any) -> CallRecord:
    start = T0 + timedelta(minutes=minute)
    return CallRecord(
        call_uuid, account.auth_id, "4930111", "4930222", initiation_time=start, **fields
    )


async def test_upsert_keeps_one_row_per_call(store: Store, account: Account) -> None:
    await store.write_records([_record(account, "c1"), _record(account, "c2")])
    ended = _record(account, "c1", call_status="completed", state="ended", call_duration=9)
    await store.write_records([ended, _record(account, "c3"), _record(account, "c3", error="x")])
    page = await store.list_calls(account.auth_id)
    assert page.total == 3
    c1 = await store.get_call(account.auth_id, "c1")
    assert c1 is not None and (c1.state, c1.call_duration) == ("ended", 9)
    c3 = await store.get_call(account.auth_id, "c3")
    assert c3 is not None and c3.error == "x"
    assert {r.call_uuid for r in await store.live_records("")} == {"c2", "c3"}


async def test_record_fields_round_trip(store: Store, account: Account) -> None:
    events = [{"time": "2025-01-01T00:00:00Z", "level": "error", "message": "answer_url 500"}]
    record = _record(account, "c1", events=events, answer_time=T0, parent_call_uuid="p")
    await store.write_records([record])
    assert await store.get_call(account.auth_id, "c1") == record
    assert await store.get_call("MA" + "X" * 18, "c1") is None


async def test_list_calls_newest_first_and_filtered(store: Store, account: Account) -> None:
    records = [_record(account, f"c{i}", minute=i) for i in range(5)]
    records.append(_record(account, "out", minute=9, call_direction="outbound"))
    await store.write_records(records)
    page = await store.list_calls(account.auth_id, limit=3, offset=1)
    assert [r.call_uuid for r in page.items] == ["c4", "c3", "c2"]
    outbound = await store.list_calls(account.auth_id, filters={"call_direction": "outbound"})
    assert [r.call_uuid for r in outbound.items] == ["out"]


async def test_list_calls_by_one_of_several_statuses(store: Store, account: Account) -> None:
    statuses = ["completed", "no-answer", "timeout", "busy"]
    await store.write_records(
        [_record(account, s, minute=i, call_status=s) for i, s in enumerate(statuses)]
    )
    unanswered = {"call_status__in": ("no-answer", "timeout")}
    page = await store.list_calls(account.auth_id, filters=unanswered)
    assert [r.call_uuid for r in page.items] == ["timeout", "no-answer"] and page.total == 2
    busy = await store.list_calls(account.auth_id, filters={"call_status__in": ("busy",)})
    assert [r.call_uuid for r in busy.items] == ["busy"]


async def test_cached_counts_follow_this_stores_writes(
    store: Store, account: Account, database_url: str
) -> None:
    store._call_counts.ttl = 60  # nothing here may expire: every total below is cached
    await store.write_records([_record(account, f"c{i}") for i in range(3)])
    assert (await store.list_calls(account.auth_id)).total == 3
    ended = {"state": "ended"}
    assert (await store.list_calls(account.auth_id, filters=ended)).total == 0
    other = await Store.open(database_url)  # another node on the same database
    try:
        await other.write_records([_record(account, "from-elsewhere")])
    finally:
        await other.close()
    # One new record and one update that moves c0 into the filter.
    await store.write_records([_record(account, "c3"), _record(account, "c0", state="ended")])
    # The total grew by this store's one new record, without a count (which would
    # also have found the other node's record, as the next count will)...
    assert (await store.list_calls(account.auth_id)).total == 4
    # ...while the filtered count was counted again.
    assert (await store.list_calls(account.auth_id, filters=ended)).total == 1
    store._call_counts.clear()
    assert (await store.list_calls(account.auth_id)).total == 5


async def test_write_records_throughput(store: Store, account: Account) -> None:
    """Measured, not asserted: the record writer flushes batches like these."""
    batch = [_record(account, str(uuid.uuid4()), events=[{"m": "x"}]) for _ in range(2500)]
    started = time.perf_counter()
    await store.write_records(batch)
    inserted = time.perf_counter() - started
    for record in batch:
        record.state = "ended"
    started = time.perf_counter()
    await store.write_records(batch)
    updated = time.perf_counter() - started
    print(
        f"\nwrite_records: insert {len(batch) / inserted:,.0f} records/s, "
        f"update {len(batch) / updated:,.0f} records/s"
    )
    assert (await store.list_calls(account.auth_id, limit=1)).total == 2500


def _callback(callback_id: str, due: datetime) -> PendingCallback:
    return PendingCallback(
        callback_id=callback_id,
        auth_id="MA" + "A" * 18,
        url="http://127.0.0.1/hangup",
        method="POST",
        body=b"CallUUID=1",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Plivo-Signature-V3": "sig"},
        attempts=1,
        next_attempt=due,
    )


async def test_outbox_due_in_time_order(store: Store) -> None:
    outbox = store.outbox
    await outbox.save(_callback("late", T0 + timedelta(seconds=30)))
    await outbox.save(_callback("early", T0 + timedelta(seconds=10)))
    await outbox.save(_callback("future", T0 + timedelta(hours=1)))
    due = await outbox.due(T0 + timedelta(minutes=1), limit=10)
    assert [cb.callback_id for cb in due] == ["early", "late"]
    assert due[0].body == b"CallUUID=1"
    assert due[0].headers == {"X-Plivo-Signature-V3": "sig"}
    assert due[0].next_attempt == T0 + timedelta(seconds=10)
    assert [cb.callback_id for cb in await outbox.due(T0 + timedelta(minutes=1), 1)] == ["early"]


async def test_outbox_reschedule_and_delete(store: Store) -> None:
    outbox = store.outbox
    await outbox.save(_callback("a", T0))
    await outbox.reschedule("a", 2, T0 + timedelta(hours=2))
    assert await outbox.due(T0 + timedelta(hours=1), 10) == []
    [again] = await outbox.due(T0 + timedelta(hours=3), 10)
    assert again.attempts == 2
    await outbox.delete("a")
    assert await outbox.due(T0 + timedelta(days=1), 10) == []


async def test_records_and_outbox_changes_in_one_batch(store: Store, account: Account) -> None:
    await store.outbox.save(_callback("old", T0))
    await store.outbox.save(_callback("retried", T0))
    changes = OutboxChanges(
        saved=[_callback("new", T0)],
        rescheduled={"retried": (3, T0 + timedelta(hours=2))},
        delivered=["old"],
    )
    await store.write_records([_record(account, "c1")], changes)
    assert await store.get_call(account.auth_id, "c1") is not None
    assert [cb.callback_id for cb in await store.outbox.due(T0 + timedelta(hours=1), 10)] == ["new"]
    due = await store.outbox.due(T0 + timedelta(hours=3), 10)
    assert [(cb.callback_id, cb.attempts) for cb in due] == [("new", 1), ("retried", 3)]


async def test_interrupted_first_attempts_are_due_at_start_up(store: Store) -> None:
    later = T0 + timedelta(hours=1)
    await store.outbox.save(replace(_callback("in-flight", later), attempts=0))
    await store.outbox.save(_callback("backing-off", later))  # attempts=1: keeps its schedule
    assert await store.outbox.release_interrupted(T0) == 1
    assert [cb.callback_id for cb in await store.outbox.due(T0, 10)] == ["in-flight"]


async def test_last_activity_is_the_newest_time_written(store: Store, account: Account) -> None:
    assert await store.last_activity("") is None
    answered = _record(account, "c1", answer_time=T0 + timedelta(minutes=3))
    ended = _record(account, "c2", minute=1, end_time=T0 + timedelta(minutes=2))
    await store.write_records([answered, ended, _record(account, "c3", minute=2)])
    assert await store.last_activity("") == T0 + timedelta(minutes=3)


async def test_live_rows_and_last_activity_are_scoped_to_the_node_that_wrote_them(
    store: Store, account: Account, database_url: str
) -> None:
    """Two nodes on one database: a node's close-out must never touch the other's calls."""
    node_b = await Store.open(database_url, node="node-b")
    try:
        await store.write_records([_record(account, "a1", answer_time=T0)])
        later = T0 + timedelta(minutes=5)
        await node_b.write_records([_record(account, "b1", answer_time=later)])
        assert [r.call_uuid for r in await store.live_records("")] == ["a1"]
        assert [r.call_uuid for r in await node_b.live_records("node-b")] == ["b1"]
        assert await store.last_activity("") == T0
        assert await store.last_activity("node-b") == later
    finally:
        await node_b.close()
