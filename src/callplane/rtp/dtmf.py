"""RFC 4733 telephone-events: the DTMF payload, a sender and a receiver.

```
 0                   1                   2                   3
|     event     |E|R| volume    |          duration             |
```
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket

DIGITS: Final = "0123456789*#ABCD"
EVENT_PAYLOAD = struct.Struct("!BBH")
MAX_DURATION: Final = 0xFFFF
UPDATE_INTERVAL: Final = 0.050
END_PACKETS: Final = 3
DEFAULT_VOLUME: Final = 10


def digit_to_event(digit: str) -> int:
    """RFC 4733 section 3.2: 0-9 -> 0-9, * -> 10, # -> 11, A-D -> 12-15."""
    event = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if event < 0:
        raise RtpError(f"not a DTMF digit: {digit!r}")
    return event


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """The telephone-event payload (RFC 4733 section 2.3)."""

    event: int
    end: bool = False
    volume: int = DEFAULT_VOLUME
    duration: int = 0

    @classmethod
    def parse(cls, data: bytes) -> DtmfEvent:
        if len(data) < EVENT_PAYLOAD.size:
            raise RtpError(f"telephone-event payload too short: {len(data)} bytes")
        event, flags, duration = EVENT_PAYLOAD.unpack_from(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return EVENT_PAYLOAD.pack(self.event, flags, self.duration)


class PacketSource(Protocol):
    """What DtmfSender needs from an outbound stream (see stream.OutboundStream)."""

    @property
    def clock_rate(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    def packet_at(
        self, payload: bytes, timestamp: int, marker: bool, payload_type: int
    ) -> RtpPacket: ...

    def skip(self, samples: int) -> None: ...


class DtmfSender:
    """Builds the packets of one digit (RFC 4733 section 2.5.1).

    ``packets`` yields ``(offset_seconds, packet)``: the start packet with the
    marker bit, an update every 50 ms with the same timestamp and growing
    duration, then the end packet three times. Afterwards the stream's
    timestamp has moved on by the digit's duration.
    """

    def __init__(self, stream: PacketSource, payload_type: int, volume: int = DEFAULT_VOLUME):
        self.stream = stream
        self.payload_type = payload_type
        self.volume = volume

    def packets(self, digit: str, duration_ms: int = 100) -> Iterator[tuple[float, RtpPacket]]:
        event = digit_to_event(digit)
        rate = self.stream.clock_rate
        total = min(max(1, round(duration_ms * rate / 1000)), MAX_DURATION)
        step = round(UPDATE_INTERVAL * rate)
        timestamp = self.stream.timestamp
        durations = list(range(step, total, step)) + [total] * END_PACKETS
        for index, duration in enumerate(durations):
            end = index >= len(durations) - END_PACKETS
            payload = bytes(DtmfEvent(event, end, self.volume, duration))
            packet = self.stream.packet_at(payload, timestamp, index == 0, self.payload_type)
            yield index * UPDATE_INTERVAL, packet
        self.stream.skip(total)


@dataclass(slots=True)
class _Seen:
    timestamp: int
    event: int
    duration: int
    ended: bool


class DtmfReceiver:
    """Turns telephone-event packets into digits, each exactly once.

    An event is identified by its RTP timestamp (RFC 4733 section 2.5.2.1):
    the first packet seen for a timestamp -- start, update or end -- emits the
    digit, so lost start packets and repeated end packets are harmless. A
    segment of a long event (timestamp = previous timestamp + previous duration,
    same event, not ended) continues the digit instead of repeating it.
    """

    def __init__(self, payload_type: int, memory: int = 16) -> None:
        self.payload_type = payload_type
        self._recent: deque[int] = deque(maxlen=memory)
        self._last: _Seen | None = None

    def feed(self, packet: RtpPacket) -> str | None:
        if packet.payload_type != self.payload_type:
            return None
        event = DtmfEvent.parse(packet.payload)
        if packet.timestamp in self._recent:
            self._update(packet.timestamp, event)
            return None
        continues = self._continues(packet.timestamp, event)
        self._recent.append(packet.timestamp)
        self._last = _Seen(packet.timestamp, event.event, event.duration, event.end)
        if continues or event.event >= len(DIGITS):
            return None
        return DIGITS[event.event]

    def _update(self, timestamp: int, event: DtmfEvent) -> None:
        last = self._last
        if last is not None and last.timestamp == timestamp:
            last.duration = max(last.duration, event.duration)
            last.ended = last.ended or event.end

    def _continues(self, timestamp: int, event: DtmfEvent) -> bool:
        last = self._last
        if last is None or last.ended or last.event != event.event:
            return False
        return (last.timestamp + last.duration) & 0xFFFFFFFF == timestamp
