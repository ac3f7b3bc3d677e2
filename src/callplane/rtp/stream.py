"""Per-SSRC bookkeeping of one RTP stream in each direction (RFC 3550).

``OutboundStream`` numbers and stamps the packets we send and counts them for
the Sender Report. ``InboundStream`` validates the sequence numbers of the
packets we receive (appendix A.1), estimates interarrival jitter (A.8) and
fills the report block of a Receiver Report (6.4.1, A.3).

``Splice`` numbers the packets a pass-through bridge relays from one leg into
the other leg's ``OutboundStream``: its SSRC, and the source's sequence numbers
and timestamps shifted by fixed offsets (RFC 3550 5.1, the translator of
RFC 7667 3.2.1.3), so the source's gaps -- loss, silence suppression -- and its timing reach the far
end. The offsets are *anchored* so that a packet continues the stream where it
stands (the next sequence number, the timestamp the wall clock has reached)
with the marker bit set, as at a talkspurt start (RFC 3551 4.1): on the first
packet, when the source changes SSRC or jumps in sequence (a restart), and when
someone else sent on the stream since (our own playout before or after the
bridge, an RFC 4733 digit) or the sink paused (``interrupt``: hold).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from callplane.rtp.packet import HEADER, RTP_VERSION, RtpPacket
from callplane.rtp.rtcp import ReportBlock

SEQ_MOD: Final = 1 << 16
TS_MOD: Final = 1 << 32
MAX_DROPOUT: Final = 3000
MAX_MISORDER: Final = 100
MIN_SEQUENTIAL: Final = 2


class OutboundStream:
    """Our sending side: random SSRC, first sequence number and timestamp (RFC 3550 5.1)."""

    def __init__(
        self,
        payload_type: int,
        clock_rate: int = 8000,
        *,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self.sequence = secrets.randbits(16) if sequence is None else sequence
        self.timestamp = secrets.randbits(32) if timestamp is None else timestamp
        self.packet_count = 0
        self.octet_count = 0

    def packet(self, payload: bytes, samples: int, marker: bool = False) -> RtpPacket:
        """The next media packet; the timestamp then advances by ``samples``."""
        packet = self.packet_at(payload, self.timestamp, marker, self.payload_type)
        self.skip(samples)
        return packet

    def packet_bytes(self, payload: bytes, samples: int, marker: bool = False) -> bytes:
        """Same as ``bytes(self.packet(...))`` without building the dataclass (hot path)."""
        second = self.payload_type | (0x80 if marker else 0)
        header = HEADER.pack(RTP_VERSION << 6, second, self.sequence, self.timestamp, self.ssrc)
        self._count(len(payload))
        self.timestamp = (self.timestamp + samples) % TS_MOD
        return header + payload

    def packet_at(
        self, payload: bytes, timestamp: int, marker: bool, payload_type: int
    ) -> RtpPacket:
        """A packet with an explicit timestamp and payload type (RFC 4733 events)."""
        packet = RtpPacket(payload_type, self.sequence, timestamp, self.ssrc, payload, marker)
        self._count(len(payload))
        return packet

    def relayed_packet_bytes(
        self, payload: bytes, sequence: int, timestamp: int, samples: int, marker: bool
    ) -> bytes:
        """A packet numbered by a ``Splice``; our own numbering then follows it.

        A late (reordered) packet keeps its place: the stream never moves back.
        """
        second = self.payload_type | (0x80 if marker else 0)
        header = HEADER.pack(RTP_VERSION << 6, second, sequence, timestamp, self.ssrc)
        self.packet_count = (self.packet_count + 1) % TS_MOD
        self.octet_count = (self.octet_count + len(payload)) % TS_MOD
        if (sequence - self.sequence) % SEQ_MOD < SEQ_MOD // 2:
            self.sequence = (sequence + 1) % SEQ_MOD
            self.timestamp = (timestamp + samples) % TS_MOD
        return header + payload

    def skip(self, samples: int) -> None:
        """Advance the timestamp without sending (silence, or after an event)."""
        self.timestamp = (self.timestamp + samples) % TS_MOD

    def _count(self, payload_size: int) -> None:
        self.sequence = (self.sequence + 1) % SEQ_MOD
        self.packet_count = (self.packet_count + 1) % TS_MOD
        self.octet_count = (self.octet_count + payload_size) % TS_MOD


class Splice:
    """Re-numbers one source's packets into ``stream`` (the sink leg's outbound stream)."""

    def __init__(self, stream: OutboundStream) -> None:
        self.stream = stream
        self._source: int | None = None
        self._last_sequence = 0
        self._sequence_offset = 0
        self._timestamp_offset = 0
        self._resume_at = 0  # the sink's next sequence number after our last packet

    def continues(self, packet: RtpPacket) -> bool:
        """True if ``packet`` follows the last one spliced and nobody else sent since."""
        if self._source != packet.ssrc or self.stream.sequence != self._resume_at:
            return False
        step = (packet.sequence - self._last_sequence) % SEQ_MOD
        return step < MAX_DROPOUT or step >= SEQ_MOD - MAX_MISORDER

    def interrupt(self) -> None:
        """The next packet starts afresh (the sink took none for a while)."""
        self._source = None

    def forward(self, packet: RtpPacket, samples: int) -> bytes:
        """``packet`` as the sink's next, ``samples`` long; anchored first unless it continues.

        The caller aligns the sink's timestamp to the wall clock before a packet
        that does not ``continue``, so the anchor lands where time has got to.
        """
        marker = packet.marker
        if not self.continues(packet):
            self._anchor(packet)
            marker = True
        elif (packet.sequence - self._last_sequence) % SEQ_MOD < MAX_DROPOUT:
            self._last_sequence = packet.sequence
        data = self.stream.relayed_packet_bytes(
            packet.payload,
            (packet.sequence + self._sequence_offset) % SEQ_MOD,
            (packet.timestamp + self._timestamp_offset) % TS_MOD,
            samples,
            marker,
        )
        self._resume_at = self.stream.sequence
        return data

    def _anchor(self, packet: RtpPacket) -> None:
        self._source = packet.ssrc
        self._last_sequence = packet.sequence
        self._sequence_offset = self.stream.sequence - packet.sequence
        self._timestamp_offset = self.stream.timestamp - packet.timestamp


@dataclass(slots=True)
class _SrRecord:
    lsr: int
    arrival: float


class InboundStream:
    """The receiving side of one SSRC (RFC 3550 appendix A.1, A.3, A.8).

    ``arrival`` arguments are seconds on any monotonic clock.
    """

    def __init__(self, ssrc: int, clock_rate: int = 8000) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = SEQ_MOD + 1
        self.probation = MIN_SEQUENTIAL
        self.received = 0
        self.late = 0  # packets older than the newest one seen (reordered or duplicated)
        self.expected_prior = 0
        self.received_prior = 0
        self.jitter = 0.0
        self._transit: float | None = None
        self._last_sr: _SrRecord | None = None
        self._initialized = False

    def update(self, packet: RtpPacket, arrival: float, *, jitter: bool = True) -> bool:
        """Account for one packet; False while A.1 holds the source on probation.

        Pass ``jitter=False`` for packets whose timestamp is not a sampling
        instant of the media clock (RFC 4733 events repeat their timestamp).
        """
        return self.update_fields(packet.sequence, packet.timestamp, arrival, jitter=jitter)

    def update_fields(
        self, sequence: int, timestamp: int, arrival: float, *, jitter: bool = True
    ) -> bool:
        """``update`` from the header fields alone (the receive path's common packet)."""
        if not self._initialized:
            self._init_seq(sequence)
            self.max_seq = sequence - 1
            self._initialized = True
        if not self._update_seq(sequence):
            return False
        if jitter:
            self._update_jitter(timestamp, arrival)
        return True

    @property
    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost (negative with duplicates), as RFC 3550 A.3."""
        return self.expected - self.received

    @property
    def jitter_seconds(self) -> float:
        return self.jitter / self.clock_rate

    def record_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember an SR for LSR/DLSR: the middle 32 bits of its NTP time."""
        self._last_sr = _SrRecord((ntp_timestamp >> 16) & 0xFFFFFFFF, arrival)

    def report_block(self, now: float) -> ReportBlock:
        """Fill one report block and start the next reporting interval (A.3)."""
        expected_interval = self.expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = self.expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        lsr, dlsr = self._lsr_dlsr(now)
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=max(-(1 << 23), min(self.lost, (1 << 23) - 1)),
            highest_sequence=self.extended_max_seq & 0xFFFFFFFF,
            jitter=int(self.jitter),
            lsr=lsr,
            dlsr=dlsr,
        )

    def _lsr_dlsr(self, now: float) -> tuple[int, int]:
        if self._last_sr is None:
            return 0, 0
        delay = max(0.0, now - self._last_sr.arrival)
        return self._last_sr.lsr, min(int(delay * 65536), 0xFFFFFFFF)

    def _init_seq(self, sequence: int) -> None:
        self.base_seq = sequence
        self.max_seq = sequence
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def _update_seq(self, sequence: int) -> bool:
        """RFC 3550 appendix A.1 ``update_seq``."""
        if self.probation:
            return self._probation_step(sequence)
        delta = (sequence - self.max_seq) % SEQ_MOD
        if delta < MAX_DROPOUT:
            if sequence < self.max_seq:
                self.cycles += SEQ_MOD
            self.max_seq = sequence
        elif delta <= SEQ_MOD - MAX_MISORDER:
            return self._large_jump(sequence)
        else:
            self.late += 1
        self.received += 1
        return True

    def _probation_step(self, sequence: int) -> bool:
        if sequence == (self.max_seq + 1) % SEQ_MOD:
            self.probation -= 1
            self.max_seq = sequence
            if self.probation == 0:
                self._init_seq(sequence)
                self.received += 1
                return True
        else:
            self.probation = MIN_SEQUENTIAL - 1
            self.max_seq = sequence
        return False

    def _large_jump(self, sequence: int) -> bool:
        if sequence == self.bad_seq:
            self._init_seq(sequence)
            self._transit = None
            self.received += 1
            return True
        self.bad_seq = (sequence + 1) % SEQ_MOD
        return False

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units."""
        transit = arrival * self.clock_rate - timestamp
        previous = self._transit
        self._transit = transit
        if previous is None:
            return
        d = abs(transit - previous)
        if d > TS_MOD / 2:
            d = abs(d - TS_MOD)
        self.jitter += (d - self.jitter) / 16
