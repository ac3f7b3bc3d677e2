from callplane.net.bans import Bans, Window


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_counts_per_key_and_restarts_each_window() -> None:
    clock = FakeClock()
    window = Window(2.0, 3, clock)
    assert [window.hit("a") for _ in range(4)] == [False, False, False, True]
    assert window.hit("b") is False
    clock.now += 2.0
    assert window.hit("a") is False


def test_a_burst_gets_the_threshold_through_whatever_the_phase() -> None:
    clock = FakeClock()
    window = Window(2.0, 3, clock)
    window.hit("quiet")  # the window's clock has been running
    clock.now += 1.9
    burst = [window.hit("a") for _ in range(3)]
    clock.now += 0.2  # a fixed window would start again here
    burst += [window.hit("a") for _ in range(3)]
    assert burst == [False] * 3 + [True] * 3


def test_stale_keys_are_swept() -> None:
    clock = FakeClock()
    window = Window(1.0, 5, clock, max_keys=1)
    window.hit("a")
    assert window.hit("b") is False and window.hit("b") is False  # not tracked
    clock.now += 1.0
    window.hit("b")  # the sweep dropped "a"
    assert [window.hit("b") for _ in range(5)] == [False] * 4 + [True]


def test_window_threshold_zero_disables() -> None:
    window = Window(1.0, 0)
    assert not any(window.hit("a") for _ in range(1000))


def test_window_tracks_at_most_max_keys() -> None:
    window = Window(1.0, 1, FakeClock(), max_keys=2)
    window.hit("a"), window.hit("b")
    assert window.hit("c") is False and window.hit("c") is False  # not tracked, never over
    assert window.hit("a") is True


def test_ban_expires_and_can_be_lifted() -> None:
    clock = FakeClock()
    bans = Bans(300, clock)
    assert bans.ban("127.0.0.2", "flood") is True
    assert bans.ban("127.0.0.2", "flood") is False  # already banned: logged once
    assert bans.banned("127.0.0.2")
    assert [b.source for b in bans.active()] == ["127.0.0.2"]
    clock.now += 300
    assert not bans.banned("127.0.0.2")
    bans.ban("127.0.0.3", "auth")
    assert bans.lift("127.0.0.3") and not bans.banned("127.0.0.3")
    assert bans.lift("127.0.0.3") is False


def test_zero_period_never_bans() -> None:
    assert Bans(0).ban("127.0.0.2", "flood") is False


def test_full_table_drops_expired_bans_first() -> None:
    clock = FakeClock()
    bans = Bans(10, clock, max_keys=1)
    bans.ban("a", "x")
    assert bans.ban("b", "x") is False
    clock.now += 10
    assert bans.ban("b", "x") is True
