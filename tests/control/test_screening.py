from callplane.control.screening import (
    Limits,
    TokenBucket,
    blocked_reason,
    caller_digits,
    is_anonymous,
)
from callplane.store.models import BlockMatch, BlockRule


def rule(match: BlockMatch, pattern: str = "", reason: str = "rejected") -> BlockRule:
    return BlockRule(rule_id="r", auth_id="MA", match=match, pattern=pattern, reason=reason)


def test_exact_prefix_and_anonymous_rules() -> None:
    rules = [
        rule(BlockMatch.EXACT, "14155550100", "busy"),
        rule(BlockMatch.PREFIX, "1900", "unwanted"),
        rule(BlockMatch.ANONYMOUS, reason="anonymity_disallowed"),
    ]
    assert blocked_reason(rules, "14155550100", anonymous=False) == "busy"
    assert blocked_reason(rules, "19005551234", anonymous=False) == "unwanted"
    assert blocked_reason(rules, "", anonymous=True) == "anonymity_disallowed"
    assert blocked_reason(rules, "14155550101", anonymous=False) is None


def test_prefix_does_not_match_an_anonymous_caller() -> None:
    assert blocked_reason([rule(BlockMatch.PREFIX, "")], "", anonymous=True) is None


def test_anonymous_detection() -> None:
    assert is_anonymous("anonymous", None)
    assert is_anonymous("Restricted", None)
    assert is_anonymous("14155550100", "id")
    assert not is_anonymous("14155550100", "none")
    assert caller_digits("+14155550100") == "14155550100"
    assert caller_digits("anonymous") == ""


def test_token_bucket_allows_rate_per_second() -> None:
    bucket = TokenBucket(rate=2)
    assert [bucket.allow(10.0) for _ in range(3)] == [True, True, False]
    assert bucket.allow(10.5)
    assert not bucket.allow(10.5)


def test_fractional_rate_still_allows_one_call() -> None:
    bucket = TokenBucket(rate=0.5)
    assert bucket.allow(0.0)
    assert not bucket.allow(1.0)
    assert bucket.allow(2.0)


def test_limits_caps_and_release() -> None:
    limits = Limits()
    keys = ("number:1555", "app:A")
    assert not limits.over_cap([("number:1555", 1)])
    limits.acquire(keys)
    assert limits.over_cap([("number:1555", 1)])
    assert not limits.over_cap([("number:1555", 0)])
    limits.release(keys)
    assert limits.active == {}


def test_cps_per_account() -> None:
    limits = Limits()
    assert limits.cps_allows("MA1", 1, now=0.0)
    assert not limits.cps_allows("MA1", 1, now=0.1)
    assert limits.cps_allows("MA2", 1, now=0.1)
    assert limits.cps_allows("MA1", 0, now=0.1)  # 0 = unlimited
