"""The shared verb model."""

from __future__ import annotations

import dataclasses

import pytest

from callplane.markup.verbs import (
    REJECT_CALL_STATUS,
    REJECT_SIP,
    Hangup,
    Reject,
    RejectReason,
    Speak,
    is_terminal,
)


def test_reject_sip_responses_follow_design() -> None:
    assert REJECT_SIP == {
        RejectReason.REJECTED: (603, "Decline"),
        RejectReason.BUSY: (486, "Busy Here"),
        RejectReason.FORBIDDEN: (403, "Forbidden"),
        RejectReason.ANONYMITY_DISALLOWED: (433, "Anonymity Disallowed"),
        RejectReason.ADDRESS_INCOMPLETE: (484, "Address Incomplete"),
        RejectReason.NO_ROUTE: (404, "Not Found"),
        RejectReason.SERVICE_UNAVAILABLE: (503, "Service Unavailable"),
        RejectReason.UNWANTED: (607, "Unwanted"),
    }


def test_reject_call_status() -> None:
    assert REJECT_CALL_STATUS[RejectReason.REJECTED] == "no-answer"
    assert REJECT_CALL_STATUS[RejectReason.BUSY] == "busy"
    others = set(RejectReason) - {RejectReason.REJECTED, RejectReason.BUSY}
    assert {REJECT_CALL_STATUS[reason] for reason in others} == {"failed"}


def test_reasons_are_strings() -> None:
    assert str(Reject().reason) == "rejected"
    assert RejectReason("unwanted") is RejectReason.UNWANTED


def test_terminal_verbs() -> None:
    assert is_terminal(Reject())
    assert is_terminal(Hangup())
    assert not is_terminal(Hangup(schedule=10))
    assert not is_terminal(Speak("hi"))


def test_verbs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Speak("hi").text = "bye"  # type: ignore[misc]
