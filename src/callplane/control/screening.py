"""Call screening without a webhook: blocklists, concurrency caps, inbound CPS.

Pure logic: the router asks, these answer with a reject reason or ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from callplane.store.models import BlockMatch, BlockRule

ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unknown", "unavailable", "private", ""})


def caller_digits(user: str) -> str:
    """The caller's number as digits, or "" for a withheld/anonymous caller."""
    stripped = user.strip().lstrip("+")
    return "" if stripped.lower() in ANONYMOUS_USERS else stripped


def is_anonymous(from_user: str, privacy: str | None) -> bool:
    if privacy and any(p.strip() in ("id", "user", "header") for p in privacy.split(";")):
        return True
    return from_user.strip().lower() in ANONYMOUS_USERS


def blocked_reason(rules: Iterable[BlockRule], caller: str, anonymous: bool) -> str | None:
    """The reject reason of the first rule that matches the caller, if any."""
    for rule in rules:
        if rule.match is BlockMatch.ANONYMOUS and anonymous:
            return rule.reason
        if anonymous:
            continue
        if rule.match is BlockMatch.EXACT and caller == rule.pattern:
            return rule.reason
        if rule.match is BlockMatch.PREFIX and caller.startswith(rule.pattern):
            return rule.reason
    return None


@dataclass(slots=True)
class TokenBucket:
    """Allows ``rate`` events per second with bursts up to ``rate`` (at least 1)."""

    rate: float
    tokens: float = -1.0
    updated: float = 0.0

    def allow(self, now: float) -> bool:
        capacity = max(self.rate, 1.0)
        if self.tokens < 0:
            self.tokens, self.updated = capacity, now
        self.tokens = min(capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SharedCps(Protocol):
    """Calls per second counted across a cluster's nodes (control/cluster_limits.py)."""

    def cps_allows(self, auth_id: str, rate: float) -> bool: ...


@dataclass(slots=True)
class Limits:
    """Live counters for concurrency caps and per-account inbound CPS (this node's
    token bucket, or ``shared`` across the cluster's nodes with ``--redis-url``)."""

    active: dict[str, int] = field(default_factory=dict)  # "number:..." / "app:..." -> calls
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    shared: SharedCps | None = None

    def cps_allows(self, auth_id: str, rate: float, now: float) -> bool:
        if rate <= 0:
            return True
        if self.shared is not None:
            return self.shared.cps_allows(auth_id, rate)
        bucket = self.buckets.get(auth_id)
        if bucket is None or bucket.rate != rate:
            bucket = self.buckets[auth_id] = TokenBucket(rate)
        return bucket.allow(now)

    def over_cap(self, caps: Iterable[tuple[str, int]]) -> bool:
        return any(cap > 0 and self.active.get(key, 0) >= cap for key, cap in caps)

    def acquire(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.active[key] = self.active.get(key, 0) + 1

    def release(self, keys: Iterable[str]) -> None:
        for key in keys:
            left = self.active.get(key, 0) - 1
            if left > 0:
                self.active[key] = left
            else:
                self.active.pop(key, None)
