from __future__ import annotations

import pytest

from callplane.rtp.dtmf import (
    DIGITS,
    DtmfEvent,
    DtmfReceiver,
    DtmfSender,
    digit_to_event,
)
from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket
from callplane.rtp.stream import OutboundStream

TE = 101


def test_event_golden_round_trip() -> None:
    data = bytes.fromhex("0b8a0320")  # '#', end, volume 10, 800 samples
    event = DtmfEvent.parse(data)
    assert event == DtmfEvent(event=11, end=True, volume=10, duration=800)
    assert bytes(event) == data


def test_event_truncated() -> None:
    with pytest.raises(RtpError):
        DtmfEvent.parse(b"\x01\x00\x00")


@pytest.mark.parametrize(
    ("digit", "event"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("A", 12), ("d", 15)]
)
def test_digit_mapping(digit: str, event: int) -> None:
    assert digit_to_event(digit) == event
    assert DIGITS[event] == digit.upper()


@pytest.mark.parametrize("bad", ["E", "", "12", " "])
def test_bad_digit(bad: str) -> None:
    with pytest.raises(RtpError):
        digit_to_event(bad)


def make_stream() -> OutboundStream:
    return OutboundStream(0, ssrc=7, sequence=65534, timestamp=1000)


def test_sender_packets() -> None:
    stream = make_stream()
    sent = list(DtmfSender(stream, TE).packets("5", duration_ms=200))
    offsets = [offset for offset, _ in sent]
    assert offsets == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    packets = [packet for _, packet in sent]
    events = [DtmfEvent.parse(p.payload) for p in packets]
    assert [p.marker for p in packets] == [True] + [False] * 5
    assert {p.timestamp for p in packets} == {1000}
    assert {p.payload_type for p in packets} == {TE}
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2, 3]
    assert [e.duration for e in events] == [400, 800, 1200, 1600, 1600, 1600]
    assert [e.end for e in events] == [False] * 3 + [True] * 3
    assert {e.event for e in events} == {5}
    assert stream.timestamp == 1000 + 1600


def test_sender_short_digit_is_three_end_packets() -> None:
    packets = [p for _, p in DtmfSender(make_stream(), TE).packets("1", duration_ms=40)]
    assert len(packets) == 3
    assert packets[0].marker
    assert all(DtmfEvent.parse(p.payload).end for p in packets)


def feed_all(receiver: DtmfReceiver, packets: list[RtpPacket]) -> list[str]:
    return [d for d in (receiver.feed(p) for p in packets) if d is not None]


def digit_packets(stream: OutboundStream, digits: str) -> list[RtpPacket]:
    sender = DtmfSender(stream, TE)
    return [p for d in digits for _, p in sender.packets(d, 120)]


def test_receiver_emits_each_digit_once() -> None:
    packets = digit_packets(make_stream(), "12#")
    assert feed_all(DtmfReceiver(TE), packets) == ["1", "2", "#"]


def test_receiver_survives_lost_start_and_repeats() -> None:
    packets = digit_packets(make_stream(), "77")
    first, second = packets[:5], packets[5:]
    mangled = first[2:] + first[-1:] * 3 + second[1:] + second[-1:]
    assert feed_all(DtmfReceiver(TE), mangled) == ["7", "7"]


def test_receiver_only_end_packets() -> None:
    packets = digit_packets(make_stream(), "9")
    assert feed_all(DtmfReceiver(TE), packets[-1:] * 3) == ["9"]


def test_receiver_ignores_other_payload_types() -> None:
    receiver = DtmfReceiver(TE)
    assert receiver.feed(RtpPacket(payload_type=0, payload=b"\x01\x00\x00\x10")) is None


def test_receiver_long_event_segments_are_one_digit() -> None:
    receiver = DtmfReceiver(TE)
    first = RtpPacket(TE, 1, 5000, 1, bytes(DtmfEvent(3, False, 10, 0xFFFF)), True)
    second = RtpPacket(TE, 2, 5000 + 0xFFFF, 1, bytes(DtmfEvent(3, True, 10, 800)))
    assert feed_all(receiver, [first, second]) == ["3"]


def test_receiver_rejects_truncated_payload() -> None:
    with pytest.raises(RtpError):
        DtmfReceiver(TE).feed(RtpPacket(payload_type=TE, payload=b"\x01"))
