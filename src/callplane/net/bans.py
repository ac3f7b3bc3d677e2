"""Per-source limits and bans, the way Kamailio's ``pike`` and ``ipban`` work.

``Window`` counts events per key (a source IP, a source and user...) in a
window that starts at the key's first event and says when a key went over its
threshold. ``Bans`` holds the sources refused for a ban period; the SIP
transport drops their packets before parsing, the REST API answers them 403.
``Tally`` counts what was refused (per kind and source or account), so a flood
leaves counters, not records.
All are pure bookkeeping over a clock (seconds, monotonic), so tests drive them
with a fake time, and all stay bounded: old windows are swept as time passes
and at most ``max_keys`` keys are tracked (a flood of spoofed sources cannot
grow memory without limit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("callplane.security")

DEFAULT_BAN_SECONDS = 300.0
MAX_KEYS = 100_000

Clock = Callable[[], float]


class Window:
    """At most ``threshold`` events per key in each ``seconds`` window; 0 disables.

    Each key's window starts at its first event (not on a shared clock tick), so a
    burst from a quiet source gets ``threshold`` events through, not up to twice that
    across a window boundary."""

    def __init__(
        self,
        seconds: float,
        threshold: int,
        clock: Clock = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.seconds = seconds
        self.threshold = threshold
        self.clock = clock
        self.max_keys = max_keys
        self._counts: dict[object, list[float]] = {}  # key -> [count, window start]
        self._swept = clock()

    def hit(self, key: object) -> bool:
        """Count one event for ``key``; True when it is over the threshold."""
        if self.threshold <= 0:
            return False
        now = self.clock()
        if now - self._swept >= self.seconds:
            self._sweep(now)
        entry = self._counts.get(key)
        if entry is None or now - entry[1] >= self.seconds:
            if entry is None and len(self._counts) >= self.max_keys:
                return False  # table full: the new key is not tracked until the next sweep
            self._counts[key] = [1, now]
            return False
        entry[0] += 1
        return entry[0] > self.threshold

    def _sweep(self, now: float) -> None:
        self._swept = now
        for key in [k for k, (_, start) in self._counts.items() if now - start >= self.seconds]:
            del self._counts[key]

    def forget(self, key: object) -> None:
        """Start ``key``'s count again (its ban was lifted)."""
        self._counts.pop(key, None)


@dataclass(frozen=True, slots=True)
class Ban:
    source: str
    reason: str
    until: float  # on the Bans clock


BanListener = Callable[[str, str, float], None]  # source, reason, seconds (0: lifted)


class Bans:
    """Sources refused until their ban expires; each ban is logged once. ``listener``
    hears every ban made and lifted here (a cluster shares them,
    ``control/cluster_limits.py``); ``apply`` takes one made elsewhere, unheard."""

    def __init__(
        self,
        seconds: float = DEFAULT_BAN_SECONDS,
        clock: Clock = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self.max_keys = max_keys
        self._bans: dict[str, Ban] = {}
        self.listener: BanListener | None = None

    def banned(self, source: str) -> bool:
        ban = self._bans.get(source)
        if ban is None:
            return False
        if ban.until <= self.clock():
            del self._bans[source]
            return False
        return True

    def ban(self, source: str, reason: str) -> bool:
        """Ban ``source`` for the ban period; False if it is already banned or bans are
        off (``seconds`` 0). Who is exempt is the caller's decision (the guard exempts
        trusted sources from the request limit, not from failed-login bans)."""
        if self.seconds <= 0 or self.banned(source):
            return False
        if len(self._bans) >= self.max_keys:
            self._sweep()
            if len(self._bans) >= self.max_keys:
                return False
        self._bans[source] = Ban(source, reason, self.clock() + self.seconds)
        log.warning("banned %s for %.0f s: %s", source, self.seconds, reason)
        if self.listener is not None:
            self.listener(source, reason, self.seconds)
        return True

    def lift(self, source: str) -> bool:
        lifted = self._bans.pop(source, None) is not None
        if lifted:
            log.info("ban of %s lifted", source)
            if self.listener is not None:
                self.listener(source, "", 0.0)
        return lifted

    def apply(self, source: str, reason: str, seconds: float) -> None:
        """Another node's ban of ``source`` for ``seconds`` more (0: its lifting)."""
        if seconds <= 0:
            if self._bans.pop(source, None) is not None:
                log.info("ban of %s lifted on another node", source)
            return
        if source not in self._bans and len(self._bans) >= self.max_keys:
            self._sweep()
            if len(self._bans) >= self.max_keys:
                return
        self._bans[source] = Ban(source, reason, self.clock() + seconds)
        log.warning("banned %s for %.0f s: %s", source, seconds, reason)

    def active(self) -> list[Ban]:
        self._sweep()
        return sorted(self._bans.values(), key=lambda ban: ban.until)

    def _sweep(self) -> None:
        now = self.clock()
        for source in [s for s, ban in self._bans.items() if ban.until <= now]:
            del self._bans[source]


OVERFLOW_KEY = "other"


class Tally:
    """Refusals counted instead of recorded: ``(kind, key) -> count``, e.g.
    ``("banned", "192.0.2.7")`` or ``("inbound_cps", auth_id)``. Past ``max_keys``
    keys, new ones are counted under ``(kind, "other")``."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.counts: dict[tuple[str, str], int] = {}
        self.totals: dict[str, int] = {}  # kind -> count, never evicted (metrics)
        self._reported: dict[tuple[str, str], int] = {}

    def add(self, kind: str, key: str) -> None:
        entry = (kind, key)
        count = self.counts.get(entry)
        if count is None and len(self.counts) >= self.max_keys:
            entry = (kind, OVERFLOW_KEY)
            count = self.counts.get(entry)
        self.counts[entry] = (count or 0) + 1
        self.totals[kind] = self.totals.get(kind, 0) + 1

    def largest(self, limit: int) -> list[tuple[str, str, int]]:
        """The ``limit`` largest counts since start, largest first."""
        ranked = sorted(self.counts.items(), key=lambda item: item[1], reverse=True)
        return [(kind, key, count) for (kind, key), count in ranked[:limit]]

    def since_report(self) -> dict[tuple[str, str], int]:
        """What was counted since the previous call (for a periodic log line)."""
        fresh = {
            entry: count - self._reported.get(entry, 0)
            for entry, count in self.counts.items()
            if count != self._reported.get(entry, 0)
        }
        self._reported = dict(self.counts)
        return fresh
