"""Recordings: add, read, list newest first with filters, delete with the file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account, CallRecord, Recording

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _recording(
    account: Account, recording_id: str, folder: Path, minute: int = 0, call_uuid: str = "c1"
) -> Recording:
    path = folder / f"{recording_id}.wav"
    path.write_bytes(b"RIFF")
    return Recording(
        recording_id=recording_id,
        auth_id=account.auth_id,
        call_uuid=call_uuid,
        recording_format="wav",
        path=str(path),
        recording_duration_ms=2500,
        recording_start_ms=1_740_830_400_000,  # epoch milliseconds do not fit 32 bits
        recording_end_ms=1_740_830_402_500,
        add_time=T0 + timedelta(minutes=minute),
    )


async def test_add_get_round_trip_with_the_calls_numbers(
    store: Store, account: Account, tmp_path: Path
) -> None:
    await store.write_records([CallRecord("c1", account.auth_id, "4930111", "4930222")])
    added = await store.add_recording(_recording(account, "r1", tmp_path))
    found = await store.get_recording(account.auth_id, "r1")
    assert found is not None
    assert found.recording_start_ms == 1_740_830_400_000
    assert (found.from_number, found.to_number) == ("4930111", "4930222")
    assert found == replace(added, from_number="4930111", to_number="4930222")
    assert await store.get_recording("MA" + "X" * 18, "r1") is None


async def test_add_time_defaults_to_now_and_no_call_record_is_fine(
    store: Store, account: Account, tmp_path: Path
) -> None:
    rec = _recording(account, "r1", tmp_path, call_uuid="no-record")
    added = await store.add_recording(replace(rec, add_time=None))
    assert added.add_time is not None
    found = await store.get_recording(account.auth_id, "r1")
    assert found is not None and (found.from_number, found.to_number) == ("", "")


async def test_list_newest_first_with_filters(
    store: Store, account: Account, tmp_path: Path
) -> None:
    for i in range(4):
        await store.add_recording(_recording(account, f"r{i}", tmp_path, i, f"c{i % 2}"))
    page = await store.list_recordings(account.auth_id, limit=2, offset=1)
    assert page.total == 4 and [r.recording_id for r in page.items] == ["r2", "r1"]
    by_call = await store.list_recordings(account.auth_id, filters={"call_uuid": "c1"})
    assert [r.recording_id for r in by_call.items] == ["r3", "r1"]
    after = await store.list_recordings(
        account.auth_id, filters={"add_time__gte": T0 + timedelta(minutes=2)}
    )
    assert [r.recording_id for r in after.items] == ["r3", "r2"]
    with pytest.raises(ValidationError):
        await store.list_recordings(account.auth_id, filters={"call_uuid__gt": "x"})


async def test_delete_removes_row_and_file(store: Store, account: Account, tmp_path: Path) -> None:
    rec = await store.add_recording(_recording(account, "r1", tmp_path))
    gone = await store.add_recording(_recording(account, "r2", tmp_path))
    Path(gone.path).unlink()
    await store.delete_recording(account.auth_id, "r1")
    await store.delete_recording(account.auth_id, "r2")  # the file was already gone
    assert not Path(rec.path).exists()
    assert (await store.list_recordings(account.auth_id)).total == 0
    with pytest.raises(NotFound):
        await store.delete_recording(account.auth_id, "r1")


async def test_other_accounts_cannot_delete(store: Store, account: Account, tmp_path: Path) -> None:
    rec = await store.add_recording(_recording(account, "r1", tmp_path))
    sub = await store.create_subaccount(account.auth_id, "sub")
    with pytest.raises(NotFound):
        await store.delete_recording(sub.auth_id, "r1")
    assert Path(rec.path).exists()
    assert await store.get_recording(sub.auth_id, "r1") is None
