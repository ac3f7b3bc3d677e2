"""Failed authentications per source IP, and the ban after too many (fail2ban in-process).

Every place that checks a password (REGISTER and endpoint INVITE digests, inbound
trunk digests, REST Basic auth with the auth token or an API key) reports a wrong
one here with the source IP and the user it claimed (never the password or the
digest response). ``limit`` failures from one source within a ``window`` of seconds
ban that source through the shared :class:`~callplane.net.bans.Bans` for its ban
period. Failures are logged at most ``LOG_PER_SECOND`` times a second; the rest are
counted and summed up in the next line, so a guessing flood cannot flood the log.
"""

from __future__ import annotations

import logging
import time

from callplane.net.bans import Bans, Clock, Window

log = logging.getLogger("callplane.security")

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 60.0
LOG_PER_SECOND = 5


class AuthFailures:
    """See the module docstring; ``limit`` 0 turns banning off (failures are still logged)."""

    def __init__(
        self,
        bans: Bans,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        clock: Clock = time.monotonic,
    ) -> None:
        self.bans = bans
        self.limit = limit
        self.window = window
        self.clock = clock
        # Window says "over" at threshold + 1 events: the limit-th failure bans.
        self._counts = Window(window, max(limit - 1, 0), clock)
        self._log_second = -1
        self._logged = 0
        self._unlogged = 0

    def banned(self, source: str) -> bool:
        return self.bans.banned(source)

    def failed(self, source: str, user: str | None, what: str) -> bool:
        """Count one failed authentication; True if it got ``source`` banned."""
        self._log(source, user, what)
        if self.limit <= 0:
            return False
        if self.limit > 1 and not self._counts.hit(source):
            return False
        return self.bans.ban(
            source, f"{self.limit} failed authentications in {self.window:.0f} s ({what})"
        )

    def _log(self, source: str, user: str | None, what: str) -> None:
        second = int(self.clock())
        if second != self._log_second:
            self._log_second, self._logged = second, 0
        if self._logged >= LOG_PER_SECOND:
            self._unlogged += 1
            return
        self._logged += 1
        more = f" (and {self._unlogged} more not logged)" if self._unlogged else ""
        self._unlogged = 0
        log.warning("authentication failed from %s as %r: %s%s", source, user, what, more)
