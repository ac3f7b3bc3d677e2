from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket

# PCMU, marker, seq 0x1234, ts 0x01020304, ssrc 0xdeadbeef, 4 payload octets.
SIMPLE = bytes.fromhex("80 80 1234 01020304 deadbeef 7f7f7f7f")
# Padding (P) + extension (X) + 2 CSRCs, dynamic PT 101, 2 padding octets.
FULL = bytes.fromhex(
    "b2 65 ffff ffffffff 000000010000000a 0000000bbede 0001 10ff00000a 80 00a000 02"
)


def test_parse_simple() -> None:
    packet = RtpPacket.parse(SIMPLE)
    assert packet == RtpPacket(
        payload_type=0,
        sequence=0x1234,
        timestamp=0x01020304,
        ssrc=0xDEADBEEF,
        payload=b"\x7f" * 4,
        marker=True,
    )


def test_parse_full() -> None:
    packet = RtpPacket.parse(FULL)
    assert packet.payload_type == 101
    assert not packet.marker
    assert packet.csrc == [10, 11]
    assert packet.extension_profile == 0xBEDE
    assert packet.extension == bytes.fromhex("10ff0000")
    assert packet.payload == bytes.fromhex("0a8000a0")
    assert packet.padding == 2


@pytest.mark.parametrize("golden", [SIMPLE, FULL])
def test_golden_round_trip(golden: bytes) -> None:
    assert bytes(RtpPacket.parse(golden)) == golden


def test_empty_extension_round_trips() -> None:
    packet = RtpPacket(payload=b"x", extension=b"", extension_profile=1)
    assert RtpPacket.parse(bytes(packet)) == packet


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SIMPLE[:11], "too short"),
        (b"\x40" + SIMPLE[1:], "version"),
        (b"\xa0" + SIMPLE[1:-1] + b"\x00", "padding"),
        (b"\xa0" + SIMPLE[1:-1] + b"\x20", "padding"),
        (b"\x83" + SIMPLE[1:12] + b"\x00" * 8, "CSRC"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde\x00\x05", "extension"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe", "extension"),
    ],
)
def test_bad_packets(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_extension_must_be_word_aligned() -> None:
    with pytest.raises(RtpError):
        bytes(RtpPacket(extension=b"abc"))


@given(st.binary(max_size=64))
def test_random_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert isinstance(packet, RtpPacket)


@given(
    st.builds(
        RtpPacket,
        payload_type=st.integers(0, 127),
        sequence=st.integers(0, 0xFFFF),
        timestamp=st.integers(0, 0xFFFFFFFF),
        ssrc=st.integers(0, 0xFFFFFFFF),
        payload=st.binary(max_size=32),
        marker=st.booleans(),
        csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
        extension_profile=st.integers(0, 0xFFFF),
        extension=st.none() | st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4)),
        padding=st.integers(0, 255),
    ).map(lambda p: p if p.extension is not None else replace(p, extension_profile=0))
)
def test_build_parse_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet
