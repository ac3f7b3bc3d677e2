from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
