"""The first thing every SIP packet meets, before it is parsed: bans, pike, scanners.

The order is Kamailio's default ``REQINIT`` route, made cheaper by running on raw
bytes: a banned source is dropped on one dict lookup; every request (a packet
that does not start with ``SIP/``) counts towards its source's pike window, and
a source over the threshold is dropped and banned (unless it is trusted: a
trunk's ACL address or a registered endpoint's source); a request whose
User-Agent is a known scanner's is dropped silently. Nothing dropped here is
answered, parsed, recorded or posted to a webhook: it only adds to ``tally``,
which ``report_forever`` logs once a minute.

Responses are not counted: they only match transactions we started, and the
endpoint drops the others after a parse (Kamailio's ``pike_check_req`` counts
requests too).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from callplane.net.bans import MAX_KEYS, Bans, Clock, Tally, Window

log = logging.getLogger("callplane.security")

# Kamailio's default configuration: `if($ua =~ "friendly|scanner|sipcli|sipvicious|
# VaxSIPUserAgent|pplsip")` -> silent drop.
SCANNER_AGENT = re.compile(
    rb"^user-agent[ \t]*:[^\r\n]*(?:friendly|scanner|sipcli|sipvicious|vaxsipuseragent|pplsip)",
    re.IGNORECASE | re.MULTILINE,
)
REPORT_EVERY = 60.0
REPORT_LINES = 10

TrustCheck = Callable[[str], bool]


class SourceGuard:
    def __init__(
        self,
        pike: Window,
        bans: Bans,
        clock: Clock = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.pike = pike
        self.bans = bans
        self.clock = clock
        self.max_keys = max_keys
        self.tally = Tally(max_keys)
        self.trust_check: TrustCheck = lambda source: False  # set by the server
        self._trust: dict[str, tuple[bool, float]] = {}  # source -> (trusted, decided at)

    @classmethod
    def of(cls, window: float, threshold: int, ban_seconds: float) -> SourceGuard:
        return cls(Window(window, threshold), Bans(ban_seconds))

    def admits(self, data: bytes, source: str) -> bool:
        """False: drop the packet from ``source`` unanswered."""
        if self.bans.banned(source):
            self.tally.add("banned", source)
            return False
        if data.startswith(b"SIP/"):
            return True
        if self.pike.hit(source) and not self.trusted(source):
            self.tally.add("pike", source)
            pike = self.pike
            self.bans.ban(source, f"more than {pike.threshold} requests in {pike.seconds:g} s")
            return False
        headers_end = data.find(b"\r\n\r\n")
        if SCANNER_AGENT.search(data, 0, len(data) if headers_end < 0 else headers_end):
            self.tally.add("scanner", source)
            return False
        return True

    def trusted(self, source: str) -> bool:
        """``trust_check`` answered at most once per pike window for each source: it may
        scan trunk ACLs and registrations, and a trusted source over the threshold asks
        on every request."""
        now = self.clock()
        known = self._trust.get(source)
        if known is not None and now - known[1] < max(self.pike.seconds, 1.0):
            return known[0]
        if len(self._trust) >= self.max_keys:
            self._trust.clear()
        trusted = self.trust_check(source)
        self._trust[source] = (trusted, now)
        return trusted

    def lift(self, source: str) -> bool:
        """End ``source``'s ban and its count in the current window (else its next
        request, still over the threshold, would ban it again)."""
        self.pike.forget(source)
        return self.bans.lift(source)

    def refused(self, kind: str, key: str) -> None:
        """Count a refusal made later than the transport (``inbound_cps`` by account)."""
        self.tally.add(kind, key)

    def report(self) -> None:
        fresh = self.tally.since_report()
        if not fresh:
            return
        ranked = sorted(fresh.items(), key=lambda item: item[1], reverse=True)
        shown = ", ".join(f"{kind} {key}: {count}" for (kind, key), count in ranked[:REPORT_LINES])
        more = f" (and {len(ranked) - REPORT_LINES} more)" if len(ranked) > REPORT_LINES else ""
        log.warning("refused without a record since the last report: %s%s", shown, more)

    async def report_forever(self, every: float = REPORT_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            self.report()
