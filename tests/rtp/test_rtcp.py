from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callplane.rtp.errors import RtpError
from callplane.rtp.rtcp import (
    Bye,
    CompoundPacket,
    ReceiverReport,
    ReportBlock,
    RtcpUnknown,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    ntp_middle32,
)

BLOCK = ReportBlock(0x1111, 25, -3, 0x00010005, 40, 0x12345678, 0x00018000)
SR_GOLDEN = bytes.fromhex(
    "81c8000c 00002222"
    "e8f00000 80000000 00000a00 00000032 00001f40"
    "00001111 19fffffd 00010005 00000028 12345678 00018000"
)


def test_ntp_helpers() -> None:
    ntp = ntp_from_unix(1.5)
    assert ntp >> 32 == 2_208_988_801
    assert ntp & 0xFFFFFFFF == 0x80000000
    assert ntp_middle32(0x0123456789ABCDEF) == 0x456789AB
    now = time.time()
    assert ntp_from_unix(now) / (1 << 32) - 2_208_988_800 == pytest.approx(now, abs=1e-6)


def test_sender_report_golden() -> None:
    compound = CompoundPacket.parse(SR_GOLDEN)
    (sr,) = compound.packets
    assert isinstance(sr, SenderReport)
    assert sr.ssrc == 0x2222
    assert sr.ntp_timestamp == 0xE8F0000080000000
    assert (sr.rtp_timestamp, sr.packet_count, sr.octet_count) == (2560, 50, 8000)
    assert sr.reports == (BLOCK,)
    assert bytes(compound) == SR_GOLDEN


def test_sdes_cname_round_trip() -> None:
    sdes = SourceDescription.cname(0x2222, "alice@a")
    data = bytes(sdes)
    assert len(data) % 4 == 0
    (parsed,) = CompoundPacket.parse(data).packets
    assert parsed == sdes
    assert isinstance(parsed, SourceDescription)
    assert parsed.chunks[0].cname == "alice@a"


def test_compound_round_trip() -> None:
    compound = CompoundPacket(
        (
            ReceiverReport(5, (BLOCK, BLOCK)),
            SourceDescription((SdesChunk(5, ((1, b"x"), (2, b"Name"))), SdesChunk(6, ()))),
            Bye((5, 6), "hangup"),
            RtcpUnknown(204, 1, b"abcd1234"),
        )
    )
    assert CompoundPacket.parse(bytes(compound)) == compound


def test_bye_without_reason() -> None:
    bye = Bye((1,))
    assert CompoundPacket.parse(bytes(bye)).packets == (bye,)


def test_padding_is_stripped() -> None:
    rr = bytes(ReceiverReport(9))
    padded = bytes([rr[0] | 0x20, rr[1], 0, 2]) + rr[4:] + b"\x00\x00\x00\x04"
    assert CompoundPacket.parse(padded).packets == (ReceiverReport(9),)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x81\xc9",
        b"\x41\xc9\x00\x01\x00\x00\x00\x01",
        b"\x81\xc9\x00\x07\x00\x00\x00\x01",
        b"\x81\xc9\x00\x01\x00\x00\x00\x01",
        b"\x80\xc8\x00\x01\x00\x00\x00\x01",
        b"\xa0\xc9\x00\x01\x00\x00\x00\x00",
        b"\x81\xca\x00\x01\x00\x00\x00\x01",
        b"\x82\xcb\x00\x01\x00\x00\x00\x01",
    ],
)
def test_bad_rtcp(data: bytes) -> None:
    with pytest.raises(RtpError):
        CompoundPacket.parse(data)


def test_count_limit() -> None:
    with pytest.raises(RtpError):
        bytes(ReceiverReport(1, (BLOCK,) * 32))


@given(st.binary(max_size=96))
def test_random_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        CompoundPacket.parse(data)
