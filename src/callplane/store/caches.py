"""Small in-memory caches that keep SQL off the API's hot paths.

Both are exact for changes made through the same :class:`Store` (they are
refreshed or cleared on every such write) and at most ``ttl`` seconds plus one
load stale for changes made by another process sharing the database (a cluster
node).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from callplane.store.ids import twilio_account_sid
from callplane.store.models import Account
from callplane.store.secrets import secret_digest

log = logging.getLogger("callplane.store")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_DUMMY_TOKEN = b"x" * 40


class Refreshed(Generic[K, V]):
    """Values by key, each loaded once and kept; older than ``ttl`` seconds, a value
    is still answered while one reload runs in the background.

    So no request waits for a reload that only catches up with other processes,
    and requests that miss the same key at once share one load (a count over many
    rows takes milliseconds; each request arriving meanwhile would start its own).
    After ``clear()`` (a change made here) callers wait for the reload, so they
    always see their own changes.
    """

    def __init__(self, ttl: float, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._values: dict[K, tuple[V, float]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._running: set[asyncio.Future[V]] = set()  # asyncio keeps only weak references

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        found = self._values.get(key)
        if found is None:
            return await asyncio.shield(self._load(key, load))
        value, loaded_at = found
        if time.monotonic() - loaded_at > self.ttl:
            self._load(key, load)
        return value

    def put(self, key: K, value: V) -> None:
        """A value read after the latest change; a load still running may predate it."""
        self._loading.pop(key, None)
        self._keep(key, value)

    def change(self, key: K, change: Callable[[V], V]) -> None:
        """Apply a change made here to ``key``'s value, if there is one (its age stays,
        so other processes' changes still show within ``ttl``); a load still running
        may predate the change and is forgotten."""
        self._loading.pop(key, None)
        found = self._values.get(key)
        if found is not None:
            self._values[key] = (change(found[0]), found[1])

    def forget(self, which: Callable[[K], bool]) -> None:
        """Forget the values, and loads still running, of the keys ``which`` picks."""
        for keys in (self._values, self._loading):
            for key in [key for key in keys if which(key)]:
                del keys[key]

    def clear(self) -> None:
        """Forget every value, and loads still running (they may predate the change)."""
        self._values.clear()
        self._loading.clear()

    def _keep(self, key: K, value: V) -> None:
        if len(self._values) >= self.size and key not in self._values:
            self._values.clear()
        self._values[key] = (value, time.monotonic())

    def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        running = self._loading.get(key)
        if running is None:
            running = self._loading[key] = asyncio.ensure_future(load())
            self._running.add(running)
            running.add_done_callback(lambda done: self._loaded(key, done))
        return running

    def _loaded(self, key: K, done: asyncio.Future[V]) -> None:
        # Reading the exception marks it retrieved: a failed refresh nobody awaits
        # is not reported as "never retrieved".
        error = None if done.cancelled() else done.exception()
        self._running.discard(done)
        if self._loading.get(key) is not done:
            return  # cleared or put while loading: the result may predate the change
        del self._loading[key]
        if done.cancelled():
            return
        if error is None:
            self._keep(key, done.result())
        elif key in self._values:
            log.warning("cache refresh failed, keeping the old value: %r", error)


@dataclass(frozen=True)
class _Known:
    accounts: dict[str, Account] = field(default_factory=dict)
    keys: frozenset[tuple[str, str]] = frozenset()
    # Twilio-style account SIDs (``AC...``) -> auth ids, for the Twilio-compatible API.
    sids: dict[str, str] = field(default_factory=dict)


def _known(accounts: Iterable[Account], keys: Iterable[tuple[str, str]]) -> _Known:
    by_id = {a.auth_id: a for a in accounts}
    sids = {twilio_account_sid(auth_id): auth_id for auth_id in by_id}
    return _Known(by_id, frozenset(keys), sids)


Load = Callable[[], Awaitable[tuple[Iterable[Account], Iterable[tuple[str, str]]]]]


class Credentials:
    """Accounts by auth id and the SHA-256 digests of their API key secrets,
    read by ``load()`` and kept ``ttl`` seconds."""

    def __init__(self, load: Load, ttl: float = 5.0) -> None:
        self._read = load
        self._known: Refreshed[None, _Known] = Refreshed(ttl, size=1)

    def replace(self, accounts: Iterable[Account], keys: Iterable[tuple[str, str]]) -> None:
        self._known.put(None, _known(accounts, keys))

    def invalidate(self) -> None:
        self._known.clear()

    async def check(self, auth_id: str, token: str) -> Account | None:
        """The enabled account whose auth token (constant-time) or key secret is ``token``;
        ``auth_id`` may also be the account's Twilio-style SID (``AC...``)."""
        known = await self._known.get(None, self._load)
        auth_id = known.sids.get(auth_id, auth_id)
        account = known.accounts.get(auth_id)
        expected = account.auth_token.encode() if account else _DUMMY_TOKEN
        matches = hmac.compare_digest(expected, token.encode())
        if account is not None and not matches:
            matches = (auth_id, secret_digest(token)) in known.keys
        return account if matches and account is not None and account.enabled else None

    async def by_twilio_sid(self, sid: str) -> Account | None:
        """The account whose Twilio-style SID is ``sid`` (enabled or not)."""
        known = await self._known.get(None, self._load)
        auth_id = known.sids.get(sid)
        return known.accounts.get(auth_id) if auth_id else None

    async def _load(self) -> _Known:
        accounts, keys = await self._read()
        return _known(accounts, keys)
