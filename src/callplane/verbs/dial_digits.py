"""Digits around a Dial: ``sendDigits`` to a B leg, ``digitsMatch`` patterns during the bridge.

``sendDigits`` is Plivo's: keys sent as RFC 4733 events, ``w`` waits 0.5 s and
``W`` 1 s. ``digitsMatch`` / ``digitsMatchBLeg`` are comma-separated key
sequences; a pattern matches when the keys pressed so far end with it, and the
keys are then forgotten, so ``"12"`` after ``1 2 1 2`` matches twice.
"""

from __future__ import annotations

import asyncio

from callplane.net.rtp_session import RtpSession

PAUSES = {"w": 0.5, "W": 1.0}


async def send_digits(session: RtpSession, digits: str) -> None:
    """Send ``digits`` on ``session``, pausing at each ``w``/``W``."""
    keys = ""
    for char in digits:
        if char not in PAUSES:
            keys += char
            continue
        if keys:
            await session.send_dtmf(keys)
            keys = ""
        await asyncio.sleep(PAUSES[char])
    if keys:
        await session.send_dtmf(keys)


def patterns(raw: str) -> tuple[str, ...]:
    return tuple(p for p in (part.strip() for part in raw.split(",")) if p)


class DigitsMatcher:
    """Feeds on keys one at a time; returns the pattern a key completed, if any."""

    def __init__(self, raw: str) -> None:
        self.patterns = patterns(raw)
        self._longest = max((len(p) for p in self.patterns), default=0)
        self._heard = ""

    def feed(self, key: str) -> str | None:
        if not self.patterns:
            return None
        self._heard = (self._heard + key)[-self._longest :]
        for pattern in self.patterns:
            if self._heard.endswith(pattern):
                self._heard = ""
                return pattern
        return None
