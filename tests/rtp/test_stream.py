from __future__ import annotations

import pytest

from callplane.rtp.packet import RtpPacket
from callplane.rtp.rtcp import ntp_from_unix
from callplane.rtp.stream import InboundStream, OutboundStream


def test_outbound_wraps_sequence_and_timestamp() -> None:
    stream = OutboundStream(0, ssrc=1, sequence=0xFFFF, timestamp=0xFFFFFFF0)
    first = stream.packet(b"a" * 160, 160, marker=True)
    second = stream.packet(b"b" * 160, 160)
    assert (first.sequence, first.timestamp, first.marker) == (0xFFFF, 0xFFFFFFF0, True)
    assert (second.sequence, second.timestamp) == (0, 0x90)
    assert (stream.packet_count, stream.octet_count) == (2, 320)


def test_packet_bytes_matches_packet() -> None:
    a = OutboundStream(8, ssrc=9, sequence=10, timestamp=11)
    b = OutboundStream(8, ssrc=9, sequence=10, timestamp=11)
    for marker in (True, False):
        assert a.packet_bytes(b"xyz", 160, marker) == bytes(b.packet(b"xyz", 160, marker))
    assert (a.sequence, a.timestamp, a.octet_count) == (b.sequence, b.timestamp, b.octet_count)


def test_outbound_randomizes_start() -> None:
    starts = {(s.ssrc, s.sequence, s.timestamp) for s in (OutboundStream(0) for _ in range(5))}
    assert len(starts) == 5


def feed(stream: InboundStream, seqs: list[int], start_ts: int = 0) -> list[bool]:
    return [
        stream.update(RtpPacket(0, seq % 65536, start_ts + i * 160, 1), arrival=i * 0.02)
        for i, seq in enumerate(seqs)
    ]


def test_probation_then_counting() -> None:
    stream = InboundStream(1)
    assert feed(stream, [100, 101, 102]) == [False, True, True]
    assert stream.base_seq == 101
    assert (stream.received, stream.expected, stream.lost) == (2, 2, 0)


def test_probation_restarts_on_gap() -> None:
    stream = InboundStream(1)
    assert feed(stream, [100, 105, 106, 107]) == [False, False, True, True]
    assert stream.base_seq == 106


def test_wrap_counts_cycles() -> None:
    stream = InboundStream(1)
    feed(stream, list(range(65530, 65536 + 10)))
    assert stream.cycles == 65536
    assert stream.extended_max_seq == 65536 + 9
    assert stream.lost == 0


def test_loss_and_fraction() -> None:
    stream = InboundStream(1)
    seqs = [s for s in range(10, 111) if s % 10 != 5]
    feed(stream, seqs)
    block = stream.report_block(now=10.0)
    assert stream.expected == 100
    assert block.packets_lost == 10
    assert block.fraction_lost == (10 << 8) // 100
    assert block.highest_sequence == 110
    assert stream.report_block(now=11.0).fraction_lost == 0


def test_duplicates_and_reordering() -> None:
    stream = InboundStream(1)
    feed(stream, [1, 2, 3, 5, 4, 5, 6])
    assert stream.max_seq == 6
    assert stream.lost == -1  # a duplicate counts as received, as in RFC 3550 A.3
    assert stream.late == 1  # 4 came after 5


def test_large_jump_needs_two_packets() -> None:
    stream = InboundStream(1)
    feed(stream, [1, 2, 3])
    assert not stream.update(RtpPacket(0, 20000, 0, 1), 1.0)
    assert stream.update(RtpPacket(0, 20001, 160, 1), 1.02)
    assert stream.base_seq == 20001


def test_jitter_zero_for_perfect_pacing() -> None:
    stream = InboundStream(1)
    feed(stream, list(range(50)))
    assert stream.jitter == pytest.approx(0, abs=1e-9)


def test_jitter_converges_to_constant_deviation() -> None:
    stream = InboundStream(1)
    for i in range(2000):
        arrival = i * 0.02 + (0.001 if i % 2 else 0.0)
        stream.update(RtpPacket(0, i, i * 160, 1), arrival)
    assert stream.jitter == pytest.approx(8.0, rel=1e-3)
    assert stream.jitter_seconds == pytest.approx(0.001, rel=1e-3)


def test_jitter_survives_timestamp_wrap() -> None:
    stream = InboundStream(1)
    for i in range(20):
        stream.update(RtpPacket(0, i, (0xFFFFFF00 + i * 160) % 2**32, 1), i * 0.02)
    assert stream.jitter == pytest.approx(0, abs=1e-6)


def test_jitter_can_be_skipped_for_events() -> None:
    stream = InboundStream(1)
    for i in range(10):
        stream.update(RtpPacket(101, i, 5000, 1), i * 0.05, jitter=False)
    assert stream.jitter == 0


def test_lsr_dlsr() -> None:
    stream = InboundStream(1)
    assert stream.report_block(0.0).lsr == 0
    ntp = ntp_from_unix(1000.25)
    stream.record_sender_report(ntp, arrival=50.0)
    block = stream.report_block(now=51.5)
    assert block.lsr == (ntp >> 16) & 0xFFFFFFFF
    assert block.dlsr == int(1.5 * 65536)
