"""Request parameters: Twilio's names for everyone, Twilio's values for TwiML apps."""

from __future__ import annotations

from datetime import datetime

import pytest

from callplane.calls.params import answer_params, hangup_params, in_dialect
from callplane.calls.twilio_params import twilio_ids
from callplane.markup.verbs import Dialect
from callplane.store.models import CallRecord


def _record(call_status: str = "ringing", call_direction: str = "inbound") -> CallRecord:
    return CallRecord(
        "c-1",
        "MA0000000000000000AB",
        "14155550100",
        "15550001111",
        call_direction=call_direction,
        call_status=call_status,
        initiation_time=datetime(2026, 1, 2, 3, 4, 5),
    )


def test_answer_params_carry_twilios_names() -> None:
    params = answer_params(_record(), {})
    assert params["CallSid"] == params["CallUUID"] == "c-1"
    assert params["AccountSid"] == "MA0000000000000000AB"
    assert (params["From"], params["Caller"]) == ("14155550100", "14155550100")
    assert (params["To"], params["Called"]) == ("15550001111", "15550001111")
    assert params["ApiVersion"] == "2010-04-01"
    assert (params["Direction"], params["CallStatus"]) == ("inbound", "ringing")


@pytest.mark.parametrize(
    ("status", "direction", "twilio_status", "twilio_direction"),
    [
        ("cancel", "inbound", "canceled", "inbound"),
        ("timeout", "outbound", "no-answer", "outbound-api"),
        ("completed", "outbound", "completed", "outbound-api"),
        ("busy", "inbound", "busy", "inbound"),
    ],
)
def test_twiml_apps_get_twilios_values(
    status: str, direction: str, twilio_status: str, twilio_direction: str
) -> None:
    record = _record(call_status=status, call_direction=direction)
    params = hangup_params(record, {}, "16")
    twiml = in_dialect(params, Dialect.TWIML)
    assert (twiml["CallStatus"], twiml["Direction"]) == (twilio_status, twilio_direction)
    assert in_dialect(params, Dialect.PLIVO) == params == hangup_params(record, {}, "16")
    assert in_dialect(params, None) == params


def test_a_twiml_hangup_callback_is_twilios_final_status_callback() -> None:
    record = _record(call_status="completed")
    record.end_time = datetime(2026, 12, 1, 10, 0, 5)
    params = hangup_params(record, {}, "16", Dialect.TWIML)
    assert params["Timestamp"] == "Tue, 01 Dec 2026 10:00:05 +0000"
    assert params["CallbackSource"] == "call-progress-events"
    assert params["SequenceNumber"] == "0"
    assert params["CallStatus"] == "completed"
    after_three = hangup_params(record, {}, "16", Dialect.TWIML, sequence=3)
    assert after_three["SequenceNumber"] == "3"  # initiated, ringing, answered came first
    assert "Timestamp" not in hangup_params(record, {}, "16", Dialect.PLIVO)


def test_twiml_apps_get_numbers_in_e164_with_the_plus() -> None:
    """Twilio writes From/To/Caller/Called as +E.164 (its guides' blocklists compare
    them so); Plivo without the plus. SIP URIs and client names stay as they are."""
    params = answer_params(_record(), {})
    twiml = in_dialect(params, Dialect.TWIML)
    assert (twiml["From"], twiml["Caller"]) == ("+14155550100", "+14155550100")
    assert (twiml["To"], twiml["Called"]) == ("+15550001111", "+15550001111")
    assert in_dialect(params, Dialect.PLIVO)["From"] == "14155550100"
    record = _record()
    record.from_number = "sip:alice@example.com"
    assert in_dialect(answer_params(record, {}), Dialect.TWIML)["From"] == "sip:alice@example.com"


def test_calls_placed_through_the_twilio_api_name_numbers_as_twilio_does() -> None:
    """Their answer request goes before any document is known: Twilio's +E.164 numbers
    ride in the call's extra parameters, laid over Plivo's."""
    record = _record(call_direction="outbound")
    record.to_number = "sip:bob@127.0.0.1:5070"
    params = answer_params(record, twilio_ids(record))
    assert (params["From"], params["Caller"]) == ("+14155550100", "+14155550100")
    assert (params["To"], params["Called"]) == ("sip:bob@127.0.0.1:5070",) * 2
    assert params["Direction"] == "outbound-api"
