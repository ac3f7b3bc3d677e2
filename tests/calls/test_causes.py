"""Reject reasons -> hangup causes (docs/design.md section 3, docs/hangup-causes.md)."""

from __future__ import annotations

from callplane.calls.causes import REJECT_CAUSES
from callplane.reject_reasons import RejectReason


def test_every_reject_reason_has_a_cause() -> None:
    assert list(REJECT_CAUSES) == list(RejectReason)


def test_reject_call_status() -> None:
    assert REJECT_CAUSES[RejectReason.REJECTED].call_status == "no-answer"
    assert REJECT_CAUSES[RejectReason.BUSY].call_status == "busy"
    others = set(RejectReason) - {RejectReason.REJECTED, RejectReason.BUSY}
    assert {REJECT_CAUSES[reason].call_status for reason in others} == {"failed"}
