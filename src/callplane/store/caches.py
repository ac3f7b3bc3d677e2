"""Small in-memory caches that keep SQL off the API's hot paths.

Both are exact for changes made through the same :class:`Store` (they are
refreshed or cleared on every such write) and at most ``ttl`` seconds stale for
changes made by another process sharing the database (a cluster node).
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Hashable, Iterable

from callplane.store.models import Account
from callplane.store.secrets import secret_digest

_DUMMY_TOKEN = b"x" * 40


class Credentials:
    """Accounts by auth id and the SHA-256 digests of their API key secrets."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._accounts: dict[str, Account] = {}
        self._keys: frozenset[tuple[str, str]] = frozenset()
        self._loaded_at = -math.inf

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self.ttl

    def invalidate(self) -> None:
        self._loaded_at = -math.inf

    def replace(self, accounts: Iterable[Account], keys: Iterable[tuple[str, str]]) -> None:
        self._accounts = {a.auth_id: a for a in accounts}
        self._keys = frozenset(keys)
        self._loaded_at = time.monotonic()

    def check(self, auth_id: str, token: str) -> Account | None:
        """The enabled account whose auth token (constant-time) or key secret is ``token``."""
        account = self._accounts.get(auth_id)
        expected = account.auth_token.encode() if account else _DUMMY_TOKEN
        matches = hmac.compare_digest(expected, token.encode())
        if account is not None and not matches:
            matches = (auth_id, secret_digest(token)) in self._keys
        return account if matches and account is not None and account.enabled else None


class Counts:
    """``count(*)`` results of list queries, by query key, for ``ttl`` seconds."""

    def __init__(self, ttl: float = 2.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._counts: dict[Hashable, tuple[int, float]] = {}

    def get(self, key: Hashable) -> int | None:
        found = self._counts.get(key)
        if found is None or time.monotonic() - found[1] > self.ttl:
            return None
        return found[0]

    def put(self, key: Hashable, total: int) -> None:
        if len(self._counts) >= self.size:
            self._counts.clear()
        self._counts[key] = (total, time.monotonic())

    def clear(self) -> None:
        self._counts.clear()
