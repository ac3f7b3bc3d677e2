import logging

import pytest

from callplane.net.bans import Bans, Tally, Window
from callplane.net.guard import SourceGuard
from tests.net.test_bans import FakeClock

INVITE = b"INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nUser-Agent: %s\r\n\r\nv=0\r\n"
RESPONSE = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n"


def guard_of(threshold: int = 3, ban_seconds: float = 300) -> tuple[SourceGuard, FakeClock]:
    clock = FakeClock()
    return SourceGuard(Window(2.0, threshold, clock), Bans(ban_seconds, clock), clock), clock


def test_over_the_threshold_a_source_is_dropped_banned_and_counted() -> None:
    guard, clock = guard_of()
    request = INVITE % b"phone"
    assert [guard.admits(request, "192.0.2.7") for _ in range(4)] == [True, True, True, False]
    assert guard.bans.banned("192.0.2.7") and guard.admits(request, "192.0.2.8")
    clock.now += 10  # a new window: the ban still holds, responses included
    assert not guard.admits(request, "192.0.2.7") and not guard.admits(RESPONSE, "192.0.2.7")
    assert guard.tally.counts == {("pike", "192.0.2.7"): 1, ("banned", "192.0.2.7"): 2}


def test_responses_are_not_counted() -> None:
    guard, _ = guard_of()
    assert all(guard.admits(RESPONSE, "192.0.2.7") for _ in range(10))
    assert guard.admits(INVITE % b"phone", "192.0.2.7")


def test_without_bans_only_the_requests_over_the_threshold_are_dropped() -> None:
    guard, clock = guard_of(threshold=1, ban_seconds=0)
    assert guard.admits(INVITE % b"x", "192.0.2.7") and not guard.admits(INVITE % b"x", "192.0.2.7")
    clock.now += 2
    assert guard.admits(INVITE % b"x", "192.0.2.7")


def test_trusted_sources_are_exempt_and_asked_once_per_window() -> None:
    guard, clock = guard_of(threshold=1)
    asked: list[str] = []
    guard.trust_check = lambda source: asked.append(source) or source == "10.0.0.1"
    assert all(guard.admits(INVITE % b"pbx", "10.0.0.1") for _ in range(50))
    assert asked == ["10.0.0.1"] and not guard.bans.active()
    clock.now += 2
    guard.admits(INVITE % b"pbx", "10.0.0.1"), guard.admits(INVITE % b"pbx", "10.0.0.1")
    assert asked == ["10.0.0.1", "10.0.0.1"]


def test_lifting_a_ban_restarts_the_source_count() -> None:
    guard, _ = guard_of(threshold=1)
    guard.admits(INVITE % b"x", "192.0.2.7"), guard.admits(INVITE % b"x", "192.0.2.7")
    assert guard.lift("192.0.2.7") and guard.admits(INVITE % b"x", "192.0.2.7")
    assert guard.lift("192.0.2.7") is False


def test_scanner_user_agents_are_dropped_in_the_headers_only() -> None:
    guard, _ = guard_of(threshold=0)
    for agent in (b"friendly-scanner", b"sipvicious", b"SIPcli/v1.8", b"VaxSIPUserAgent/3.1"):
        assert not guard.admits(INVITE % agent, "192.0.2.9"), agent
    assert guard.admits(INVITE % b"Linphone/5.2", "192.0.2.9")
    in_body = b"MESSAGE sip:1@h SIP/2.0\r\nVia: x\r\n\r\nUser-Agent: sipvicious\r\n"
    assert guard.admits(in_body, "192.0.2.9")
    assert guard.tally.counts == {("scanner", "192.0.2.9"): 4}


def test_tally_is_bounded_and_reports_what_is_new() -> None:
    tally = Tally(max_keys=2)
    for source in ("a", "b", "c", "d"):
        tally.add("banned", source)
    assert tally.counts == {("banned", "a"): 1, ("banned", "b"): 1, ("banned", "other"): 2}
    assert tally.since_report() == tally.counts
    tally.add("banned", "a")
    assert tally.since_report() == {("banned", "a"): 1}
    assert tally.since_report() == {}
    assert tally.largest(1) == [("banned", "a", 2)]


def test_the_report_logs_what_was_refused_since_the_last_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard, _ = guard_of(threshold=1)
    for _ in range(3):
        guard.admits(INVITE % b"x", "192.0.2.7")
    guard.refused("inbound_cps", "MA0001")
    with caplog.at_level(logging.WARNING, "callplane.security"):
        guard.report()
        guard.report()  # nothing new: no line
    [line] = [r.getMessage() for r in caplog.records if "since the last report" in r.message]
    assert "banned 192.0.2.7: 1" in line and "inbound_cps MA0001: 1" in line
