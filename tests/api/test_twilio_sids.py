"""Twilio-style SIDs and the Twilio API's time filters (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callplane.api.twilio_apps import app_id_of_sid, app_sid
from callplane.api.twilio_http import rfc2822, time_bounds
from callplane.api.twilio_numbers import number_of_sid, number_sid
from callplane.errors import ValidationError
from callplane.store.ids import twilio_account_sid, twilio_call_sid, uuid_of_sid


def test_account_sids_are_stable_and_distinct() -> None:
    sid = twilio_account_sid("MATESTACCOUNT0000000")
    assert sid == twilio_account_sid("MATESTACCOUNT0000000")
    assert sid.startswith("AC") and len(sid) == 34 and int(sid[2:], 16) >= 0
    assert sid != twilio_account_sid("SATESTACCOUNT0000000")


def test_call_sids_round_trip_and_other_strings_are_not_sids() -> None:
    uuid = "0f8e2c1a-6b7d-4c3e-9a10-1234567890ab"
    sid = twilio_call_sid(uuid)
    assert sid == "CA0f8e2c1a6b7d4c3e9a101234567890ab"
    assert uuid_of_sid(sid, "CA") == uuid
    assert uuid_of_sid("CA" + sid[2:].upper(), "CA") == uuid
    for not_a_sid in ("RE0f8e2c1a6b7d4c3e9a101234567890ab", "CA123", "CA" + "g" * 32, uuid):
        assert uuid_of_sid(not_a_sid, "CA") is None


def test_application_and_number_sids_round_trip() -> None:
    assert app_id_of_sid(app_sid("22899437248545409")) == "22899437248545409"
    assert app_id_of_sid("22899437248545409") == "22899437248545409"
    assert number_of_sid(number_sid("15557770001")) == "15557770001"
    assert number_of_sid("+15557770001") == "15557770001"


def test_times_are_rfc_2822_utc() -> None:
    assert rfc2822(datetime(2010, 8, 31, 20, 36, 28)) == "Tue, 31 Aug 2010 20:36:28 +0000"
    assert rfc2822(None) is None


def test_time_filters_are_days_or_seconds_and_bounds_include_the_unit() -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    assert time_bounds("StartTime", "2025-03-01") == {
        "initiation_time__gte": day,
        "initiation_time__lt": datetime(2025, 3, 2, tzinfo=UTC),
    }
    assert time_bounds("StartTime>", "2025-03-01T12:00:00Z") == {
        "initiation_time__gte": datetime(2025, 3, 1, 12, tzinfo=UTC)
    }
    assert time_bounds("EndTime<", "2025-03-01") == {
        "end_time__lt": datetime(2025, 3, 2, tzinfo=UTC)
    }
    assert time_bounds("DateCreated", "2025-03-01T12:00:00Z") == {
        "add_time__gte": day,
        "add_time__lt": datetime(2025, 3, 2, tzinfo=UTC),
    }
    with pytest.raises(ValidationError):
        time_bounds("StartTime", "yesterday")
