"""``Splice``: a pass-through bridge's packets re-numbered into the sink leg's stream."""

from __future__ import annotations

from callplane.rtp.packet import RtpPacket
from callplane.rtp.stream import OutboundStream, Splice

PCMU = 0
SINK_SSRC, SOURCE_SSRC = 0x5151, 0xA0A0


def sink() -> OutboundStream:
    return OutboundStream(PCMU, ssrc=SINK_SSRC, sequence=1000, timestamp=50_000)


def source(
    sequence: int, timestamp: int, *, ssrc: int = SOURCE_SSRC, marker: bool = False
) -> RtpPacket:
    return RtpPacket(PCMU, sequence, timestamp, ssrc, bytes([sequence % 256]) * 160, marker)


def out(splice: Splice, packet: RtpPacket) -> RtpPacket:
    return RtpPacket.parse(splice.forward(packet, len(packet.payload)))


def numbering(packet: RtpPacket) -> tuple[int, int, bool]:
    return packet.sequence, packet.timestamp, packet.marker


def test_the_first_packet_continues_the_sink_stream_with_the_marker_set() -> None:
    stream = sink()
    first = out(Splice(stream), source(7, 123_456))
    assert (first.ssrc, first.payload_type) == (SINK_SSRC, PCMU)
    assert numbering(first) == (1000, 50_000, True)
    assert first.payload == bytes([7]) * 160
    assert (stream.sequence, stream.timestamp, stream.packet_count) == (1001, 50_160, 1)


def test_offsets_keep_the_sources_gaps_and_its_marker() -> None:
    splice = Splice(sink())
    out(splice, source(7, 0))
    assert numbering(out(splice, source(8, 160))) == (1001, 50_160, False)
    assert numbering(out(splice, source(10, 480))) == (1003, 50_480, False)  # one lost
    talkspurt = out(splice, source(11, 4000, marker=True))  # silence suppressed
    assert numbering(talkspurt) == (1004, 54_000, True)


def test_our_own_packets_between_relayed_ones_make_it_re_anchor() -> None:
    stream = sink()
    splice = Splice(stream)
    out(splice, source(7, 0))
    stream.packet_bytes(b"\xff" * 160, 160, marker=True)  # a digit or a Play on the sink
    stream.skip(800)
    after = out(splice, source(8, 160))
    assert numbering(after) == (1002, 50_160 + 160 + 800, True)
    assert numbering(out(splice, source(9, 320))) == (1003, 51_280, False)


def test_a_new_source_ssrc_or_a_sequence_jump_re_anchors() -> None:
    splice = Splice(sink())
    out(splice, source(7, 0))
    assert numbering(out(splice, source(500, 9, ssrc=0xBEEF))) == (1001, 50_160, True)
    assert numbering(out(splice, source(20_000, 77, ssrc=0xBEEF))) == (1002, 50_320, True)


def test_a_late_packet_keeps_its_place_and_the_stream_does_not_go_back() -> None:
    stream = sink()
    splice = Splice(stream)
    out(splice, source(7, 0))
    out(splice, source(9, 320))
    late = out(splice, source(8, 160))
    assert numbering(late) == (1001, 50_160, False)
    assert (stream.sequence, stream.timestamp) == (1003, 50_480)
    assert numbering(out(splice, source(10, 480))) == (1003, 50_480, False)


def test_interrupt_re_anchors_the_next_packet() -> None:
    stream = sink()
    splice = Splice(stream)
    out(splice, source(7, 0))
    splice.interrupt()
    stream.skip(8000)  # the sink's clock ran on while it took nothing (hold)
    assert numbering(out(splice, source(60, 8480))) == (1001, 58_160, True)


def test_numbers_wrap_around() -> None:
    stream = OutboundStream(PCMU, ssrc=SINK_SSRC, sequence=0xFFFF, timestamp=0xFFFF_FFA0)
    splice = Splice(stream)
    assert numbering(out(splice, source(7, 0))) == (0xFFFF, 0xFFFF_FFA0, True)
    assert numbering(out(splice, source(8, 160))) == (0, 0x40, False)
    assert (stream.sequence, stream.timestamp) == (1, 0xE0)
    assert splice.continues(source(9, 320))
