"""The shared verb model."""

from __future__ import annotations

import dataclasses

import pytest

from callplane.markup.verbs import Hangup, Reject, Speak, is_terminal
from callplane.reject_reasons import REJECT_SIP, RejectReason


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
