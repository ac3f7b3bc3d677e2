"""Dial's status mapping and where targets go, without the network (numbers: see
test_trunks.py)."""

from __future__ import annotations

import pytest

from callplane.calls import causes
from callplane.calls.outbound import uri_destinations


@pytest.mark.parametrize(
    ("status", "dial_status", "q850"),
    [
        (486, "busy", "USER_BUSY"),
        (600, "busy", "USER_BUSY"),
        (603, "busy", "CALL_REJECTED"),
        (403, "failed", "CALL_REJECTED"),
        (404, "failed", "UNALLOCATED_NUMBER"),
        (480, "no-answer", "NO_USER_RESPONSE"),
        (503, "failed", "NORMAL_TEMPORARY_FAILURE"),
        (500, "failed", "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_final_responses_map_to_dial_status_and_cause(status, dial_status, q850) -> None:
    cause = causes.dial_cause(status)
    assert (cause.call_status, cause.q850) == (dial_status, q850)


def test_a_sip_uri_goes_where_it_says() -> None:
    (found,) = uri_destinations("sip:bob@127.0.0.1:5080;transport=tcp", None, "bob", "pw")
    assert found.address == ("127.0.0.1", 5080) and found.transport == "TCP"
    assert (found.username, found.password) == ("bob", "pw")
