from __future__ import annotations

from callplane.webhooks.policy import (
    CALLBACK_POLICY,
    FAILURES,
    Policy,
    action_policy,
    split_url,
)


def test_no_fragment_keeps_defaults() -> None:
    defaults = action_policy(5.0)
    assert split_url("https://x/y?a=1", defaults) == ("https://x/y?a=1", defaults)


def test_action_defaults_are_short_and_never_retry() -> None:
    policy = action_policy(5.0)
    assert (policy.connect_timeout, policy.read_timeout, policy.total_timeout) == (2.0, 5.0, 5.0)
    assert policy.retry_count == 0


def test_callback_defaults_are_plivos() -> None:
    expected = Policy(2.0, 40.0, 55.0, 1, frozenset({"ct", "rt"}))
    assert expected == CALLBACK_POLICY


def test_full_fragment() -> None:
    url, policy = split_url("https://x/y?q=1#ct=2500&rt=4000&tt=9000&rc=2&rp=ct,5xx&er=frankfurt")
    assert url == "https://x/y?q=1"
    assert policy == Policy(2.5, 4.0, 9.0, 2, frozenset({"ct", "5xx"}), "frankfurt")


def test_values_are_clamped_to_plivos_ranges() -> None:
    _, policy = split_url("https://x/y#ct=5&rt=999999&tt=60000&rc=9")
    assert (policy.connect_timeout, policy.read_timeout, policy.total_timeout) == (0.1, 40.0, 55.0)
    assert policy.retry_count == 5
    _, policy = split_url("https://x/y#rc=-3")
    assert policy.retry_count == 0


def test_rp_all_means_every_failure() -> None:
    assert split_url("https://x/y#rp=all")[1].retry_on == FAILURES


def test_bad_values_are_ignored() -> None:
    defaults = action_policy(5.0)
    _, policy = split_url("https://x/y#ct=abc&rp=bogus&zz=1&rc=1", defaults)
    assert policy == Policy(2.0, 5.0, 5.0, 1, defaults.retry_on)


def test_explicit_read_timeout_extends_default_total() -> None:
    _, policy = split_url("https://x/y#rt=10000", action_policy(5.0))
    assert policy.read_timeout == 10.0
    assert policy.total_timeout == 12.0
    _, policy = split_url("https://x/y#rt=10000&tt=3000", action_policy(5.0))
    assert policy.total_timeout == 3.0


def test_should_retry() -> None:
    policy = Policy(retry_count=2, retry_on=frozenset({"5xx"}))
    assert policy.should_retry("5xx", 1)
    assert policy.should_retry("5xx", 2)
    assert not policy.should_retry("5xx", 3)
    assert not policy.should_retry("ct", 1)
