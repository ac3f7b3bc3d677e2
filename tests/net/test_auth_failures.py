"""Failed authentications: the ban after ``limit`` in a window, and the bounded log."""

from __future__ import annotations

import logging

import pytest

from callplane.net.auth_failures import LOG_PER_SECOND, AuthFailures
from callplane.net.bans import Bans
from tests.net.test_bans import FakeClock


def failures(limit: int = 3, window: float = 60.0) -> tuple[AuthFailures, FakeClock]:
    clock = FakeClock()
    return AuthFailures(Bans(300.0, clock), limit, window, clock), clock


def test_the_limit_th_failure_in_the_window_bans_the_source() -> None:
    counter, _ = failures(limit=3)
    assert [counter.failed("192.0.2.1", "alice", "REGISTER") for _ in range(3)] == [
        False,
        False,
        True,
    ]
    assert counter.banned("192.0.2.1") and not counter.banned("192.0.2.2")


def test_failures_in_different_windows_do_not_add_up() -> None:
    counter, clock = failures(limit=3, window=60.0)
    counter.failed("192.0.2.1", "alice", "REGISTER")
    counter.failed("192.0.2.1", "alice", "REGISTER")
    clock.now += 60.0
    assert not counter.failed("192.0.2.1", "alice", "REGISTER")
    assert not counter.banned("192.0.2.1")


def test_a_ban_ends_after_the_ban_period() -> None:
    counter, clock = failures(limit=1)
    assert counter.failed("192.0.2.1", None, "REST API")
    clock.now += 300.0
    assert not counter.banned("192.0.2.1")


def test_limit_zero_never_bans() -> None:
    counter, _ = failures(limit=0)
    assert not any(counter.failed("192.0.2.1", "alice", "REGISTER") for _ in range(100))
    assert not counter.banned("192.0.2.1")


def test_failures_are_logged_at_a_bounded_rate(caplog: pytest.LogCaptureFixture) -> None:
    counter, clock = failures(limit=0)
    with caplog.at_level(logging.WARNING, "callplane.security"):
        for _ in range(50):
            counter.failed("192.0.2.1", "alice", "REGISTER: wrong digest response")
        clock.now += 1.0
        counter.failed("192.0.2.1", "alice", "REGISTER: wrong digest response")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == LOG_PER_SECOND + 1
    assert lines[0] == (
        "authentication failed from 192.0.2.1 as 'alice': REGISTER: wrong digest response"
    )
    assert lines[-1].endswith(f"(and {50 - LOG_PER_SECOND} more not logged)")
