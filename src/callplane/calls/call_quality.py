"""Audio quality figures of a leg and an estimated MOS (the E-model, simplified).

The estimate follows ITU-T G.107 with the defaults of G.711 folded in, as
commonly simplified for monitoring (e.g. Cole & Rosenbluth, 2001):

* effective latency ``d = one_way + 2 * jitter + 10 ms`` (codec), where ``one_way``
  is half the RTCP round-trip time, or 0 when no RTCP report gave one;
* ``R = 93.2 - Id - Ie`` with the delay impairment ``Id = d / 40`` below 160 ms and
  ``(d - 120) / 10`` from there, and the loss impairment ``Ie = 2.5 * loss %``
  (G.711 without packet-loss concealment);
* ``MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R)``, clamped to 1 .. 4.5.

A perfect G.711 leg scores 4.4; 1 % loss 4.35, 5 % loss 4.0, 20 % loss with 50 ms
jitter and 400 ms round trip 1.4.
There is no MOS (``None``) for a leg that received no audio.
"""

from __future__ import annotations

from typing import Any

from callplane.net.rtp_session import RtpSessionStats

CODEC_DELAY_MS = 10.0


def estimate_mos(loss_percent: float, jitter_ms: float, rtt_ms: float | None) -> float:
    one_way = rtt_ms / 2 if rtt_ms is not None else 0.0
    delay = one_way + 2 * jitter_ms + CODEC_DELAY_MS
    delay_impairment = delay / 40 if delay < 160 else (delay - 120) / 10
    r = 93.2 - delay_impairment - 2.5 * loss_percent
    if r <= 0:
        return 1.0
    mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
    return round(max(1.0, min(4.5, mos)), 2)


def quality_of(party: str, stats: RtpSessionStats) -> dict[str, Any]:
    """The trace's ``quality`` entry for ``party`` (docs/api.md)."""
    received, lost = stats.packets_received, stats.packets_lost
    expected = received + lost
    mos = None
    if received:
        mos = estimate_mos(100 * lost / expected, stats.jitter_ms, stats.round_trip_ms)
    return {
        "party": party,
        "packets_sent": stats.packets_sent,
        "packets_received": received,
        "lost": lost,
        "late": stats.packets_late,
        "jitter_ms": round(stats.jitter_ms, 2),
        "rtt_ms": round(stats.round_trip_ms, 2) if stats.round_trip_ms is not None else None,
        "mos": mos,
        "rtcp_sent": stats.rtcp_sent,
        "rtcp_received": stats.rtcp_received,
    }
