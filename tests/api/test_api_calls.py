from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import plivo
import pytest
from plivo import exceptions

from callplane.store.models import CallRecord
from tests.api.conftest import LiveServer

START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def _record(live: LiveServer, n: int, **changes: object) -> CallRecord:
    values: dict[str, Any] = {
        "call_uuid": f"00000000-0000-0000-0000-{n:012d}",
        "auth_id": live.account.auth_id,
        "from_number": "4930111111",
        "to_number": "14155550100",
        "call_status": "completed",
        "state": "ended",
        "initiation_time": START + timedelta(minutes=n),
        "answer_time": START + timedelta(minutes=n, seconds=5),
        "end_time": START + timedelta(minutes=n, seconds=65),
        "call_duration": 65,
        "bill_duration": 60,
        "billed_duration": 60,
        "hangup_cause_name": "Normal Hangup",
        "hangup_cause_code": 4000,
        "hangup_source": "Caller",
        "events": [{"time": "t", "level": "info", "message": "answered"}],
    }
    values.update(changes)
    return CallRecord(**values)


def test_get_call_in_plivo_shape(client: plivo.RestClient, live: LiveServer) -> None:
    live.run(live.store.write_records([_record(live, 1)]))
    call = client.calls.get("00000000-0000-0000-0000-000000000001")
    assert call.call_uuid == "00000000-0000-0000-0000-000000000001"
    assert call.answer_time == "2025-03-01 12:01:05+00:00"
    assert call.call_state == "ANSWER"
    assert call.bill_duration == 60
    assert call.hangup_cause_code == 4000
    assert call.call_status == "completed"
    assert call.events[0].message == "answered"
    assert call.resource_uri.endswith("/Call/00000000-0000-0000-0000-000000000001/")


def test_list_newest_first_with_filters(client: plivo.RestClient, live: LiveServer) -> None:
    records = [_record(live, n) for n in range(1, 6)]
    records.append(
        _record(live, 6, call_direction="outbound", call_status="busy", answer_time=None)
    )
    live.run(live.store.write_records(records))
    listed = client.calls.list(limit=3)
    assert listed.meta.total_count == 6
    assert [c.call_uuid[-1] for c in listed] == ["6", "5", "4"]
    outbound = client.calls.list(call_direction="outbound")
    assert [c.call_state for c in outbound] == ["BUSY"]


def test_unknown_call_is_not_found(client: plivo.RestClient) -> None:
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.calls.get("no-such-call")


def test_plivo_filters_with_the_sdk(client: plivo.RestClient, live: LiveServer) -> None:
    records = [
        _record(live, 1, bill_duration=10),
        _record(live, 2, bill_duration=60, from_number="4930222222"),
        _record(live, 3, bill_duration=120, hangup_source="Callee", to_number="4930333333"),
        _record(
            live,
            4,
            call_direction="outbound",
            hangup_cause_code=3010,
            bill_duration=0,
            end_time=START + timedelta(days=1),
        ),
    ]
    live.run(live.store.write_records(records))

    def uuids(**filters: Any) -> list[str]:
        return [c.call_uuid[-1] for c in client.calls.list(**filters)]

    def raw(**filters: Any) -> list[str]:
        url = f"{live.base_uri}/{live.account.auth_id}/Call/"
        auth = (live.account.auth_id, live.account.auth_token)
        found = httpx.get(url, params=filters, auth=auth).json()["objects"]
        return [c["call_uuid"][-1] for c in found]

    # The SDK's list() has no bill_duration__* arguments; the API takes them.
    assert uuids(bill_duration=60) == ["2"]
    assert raw(bill_duration__gt=10) == ["3", "2"]
    assert raw(bill_duration__gte=10, bill_duration__lte=60) == ["2", "1"]
    assert raw(bill_duration__lt=10) == ["4"]
    assert uuids(from_number="+4930222222") == ["2"]
    assert uuids(to_number="4930333333") == ["3"]
    assert uuids(hangup_source="Callee") == ["3"]
    assert uuids(hangup_cause_code=3010) == ["4"]
    assert uuids(call_direction="inbound") == ["3", "2", "1"]
    assert uuids(end_time="2025-03-02") == ["4"]
    assert uuids(end_time__gt="2025-03-01") == ["4"]
    assert uuids(end_time__lte="2025-03-01") == ["3", "2", "1"]
    assert uuids(end_time__gte="2025-03-01 12:03", end_time__lt="2025-03-01 12:04") == ["2"]
    assert uuids(end_time="2025-03-01 12:03:05") == ["2"]


def test_bad_filters_are_400(client: plivo.RestClient) -> None:
    with pytest.raises(exceptions.ValidationError, match="end_time"):
        client.calls.list(end_time__gt="yesterday")
    with pytest.raises(exceptions.ValidationError, match="bill_duration"):
        client.calls.list(bill_duration="long")
    with pytest.raises(exceptions.ValidationError, match="call_direction__lt"):
        client.calls.list(call_direction__lt="x")


def test_usage_per_day_and_month(live: LiveServer) -> None:
    answered = {"total_amount": "0.02000", "billed_duration": 120}
    records = [
        _record(live, 1, **answered),
        _record(live, 2, **answered),
        _record(live, 3, answer_time=None, hangup_cause_code=3010, total_amount="0.00000"),
        _record(live, 60 * 24 + 1, **answered),
        _record(live, 5, state="live", **answered),
    ]
    live.run(live.store.write_records(records))
    url = f"{live.base_uri}/{live.account.auth_id}/Usage/"
    auth = (live.account.auth_id, live.account.auth_token)
    days = httpx.get(url, params={"from": "2025-03-01", "to": "2025-03-31"}, auth=auth).json()
    assert [(d["period"], d["calls"], d["rejected_calls"]) for d in days["objects"]] == [
        ("2025-03-01", 3, 1),
        ("2025-03-02", 1, 0),
    ]
    first = days["objects"][0]
    assert (first["billed_minutes"], first["cost"], first["answered_calls"]) == (4, "0.04000", 2)
    assert days["totals"]["cost"] == "0.06000"
    months = httpx.get(
        url, params={"period": "month", "from": "2025-03-01", "to": "2025-03-01"}, auth=auth
    ).json()
    assert [(m["period"], m["calls"]) for m in months["objects"]] == [("2025-03", 3)]
    bad = httpx.get(url, params={"period": "week"}, auth=auth)
    assert bad.status_code == 400 and list(bad.json()["fields"]) == ["period"]
