"""RTCP packets (RFC 3550 section 6): SR, RR, SDES, BYE, compound packets, NTP time.

Every RTCP packet starts with the same header (6.4.1)::

    |V=2|P|    RC   |   PT=SR=200   |             length            |

``length`` counts 32-bit words minus one. Packet types we do not model (APP,
feedback, XR) are kept as ``RtcpUnknown`` so a compound packet round-trips.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from callplane.rtp.errors import RtpError

SR: Final = 200
RR: Final = 201
SDES: Final = 202
BYE: Final = 203
SDES_CNAME: Final = 1

NTP_UNIX_OFFSET: Final = 2_208_988_800
COMMON_HEADER = struct.Struct("!BBH")
SENDER_INFO = struct.Struct("!IIIII")
REPORT_BLOCK = struct.Struct("!IB3sIIII")
MAX_COUNT: Final = 31


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp (seconds since 1900 in 32.32 fixed point)."""
    return int((seconds + NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_now() -> int:
    return ntp_from_unix(time.time())


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, as LSR carries them (6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 6.4.1); ``packets_lost`` is signed 24-bit."""

    ssrc: int
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = REPORT_BLOCK.unpack_from(data, offset)
        return cls(
            ssrc, fraction, int.from_bytes(lost, "big", signed=True), highest, jitter, lsr, dlsr
        )

    def __bytes__(self) -> bytes:
        lost = self.packets_lost.to_bytes(3, "big", signed=True)
        return REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> SenderReport:
        _need(body, 4 + SENDER_INFO.size + count * REPORT_BLOCK.size, "SR")
        (ssrc,) = struct.unpack_from("!I", body)
        msw, lsw, rtp_ts, packets, octets = SENDER_INFO.unpack_from(body, 4)
        reports = _parse_blocks(body, 4 + SENDER_INFO.size, count)
        return cls(ssrc, msw << 32 | lsw, rtp_ts, packets, octets, reports)

    def __bytes__(self) -> bytes:
        info = SENDER_INFO.pack(
            self.ntp_timestamp >> 32,
            self.ntp_timestamp & 0xFFFFFFFF,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        )
        body = struct.pack("!I", self.ssrc) + info + _blocks_bytes(self.reports)
        return _wrap(SR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> ReceiverReport:
        _need(body, 4 + count * REPORT_BLOCK.size, "RR")
        (ssrc,) = struct.unpack_from("!I", body)
        return cls(ssrc, _parse_blocks(body, 4, count))

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + _blocks_bytes(self.reports)
        return _wrap(RR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SSRC and its items as ``(type, text)`` pairs (6.5)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    @property
    def cname(self) -> str | None:
        for kind, value in self.items:
            if kind == SDES_CNAME:
                return value.decode("utf-8", "replace")
        return None

    def __bytes__(self) -> bytes:
        parts = [struct.pack("!I", self.ssrc)]
        for kind, value in self.items:
            if len(value) > 255:
                raise RtpError("SDES item longer than 255 octets")
            parts.append(bytes([kind, len(value)]) + value)
        raw = b"".join(parts)
        return raw + bytes(4 - len(raw) % 4)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    chunks: tuple[SdesChunk, ...] = ()

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> SourceDescription:
        return cls((SdesChunk(ssrc, ((SDES_CNAME, cname.encode()),)),))

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        for _ in range(count):
            chunk, offset = _parse_chunk(body, offset)
            chunks.append(chunk)
        return cls(tuple(chunks))

    def __bytes__(self) -> bytes:
        body = b"".join(bytes(chunk) for chunk in self.chunks)
        return _wrap(SDES, len(self.chunks), body)


@dataclass(frozen=True, slots=True)
class Bye:
    sources: tuple[int, ...] = ()
    reason: str | None = None

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> Bye:
        _need(body, 4 * count, "BYE")
        sources = struct.unpack_from(f"!{count}I", body)
        offset = 4 * count
        if offset >= len(body):
            return cls(sources)
        length = body[offset]
        _need(body, offset + 1 + length, "BYE reason")
        return cls(sources, body[offset + 1 : offset + 1 + length].decode("utf-8", "replace"))

    def __bytes__(self) -> bytes:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            reason = self.reason.encode()[:255]
            body += bytes([len(reason)]) + reason
            body += bytes(-len(body) % 4)
        return _wrap(BYE, len(self.sources), body)


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    packet_type: int
    count: int = 0
    body: bytes = b""

    def __bytes__(self) -> bytes:
        return _wrap(self.packet_type, self.count, self.body)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | RtcpUnknown

_PARSERS: Final[dict[int, Callable[[int, bytes], RtcpPacket]]] = {
    SR: SenderReport.parse_body,
    RR: ReceiverReport.parse_body,
    SDES: SourceDescription.parse_body,
    BYE: Bye.parse_body,
}


@dataclass(frozen=True, slots=True)
class CompoundPacket:
    packets: tuple[RtcpPacket, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, data: bytes) -> CompoundPacket:
        packets: list[RtcpPacket] = []
        offset = 0
        while offset < len(data):
            packet, offset = _parse_one(data, offset)
            packets.append(packet)
        if not packets:
            raise RtpError("empty RTCP packet")
        return cls(tuple(packets))

    def __bytes__(self) -> bytes:
        return b"".join(bytes(packet) for packet in self.packets)


def _parse_one(data: bytes, offset: int) -> tuple[RtcpPacket, int]:
    if len(data) - offset < COMMON_HEADER.size:
        raise RtpError("RTCP header truncated")
    first, packet_type, words = COMMON_HEADER.unpack_from(data, offset)
    if first >> 6 != 2:
        raise RtpError(f"RTCP version {first >> 6} is not 2")
    end = offset + 4 * (words + 1)
    if end > len(data):
        raise RtpError("RTCP packet truncated")
    body = _strip_padding(data[offset + 4 : end], bool(first & 0x20))
    count = first & 0x1F
    parser = _PARSERS.get(packet_type)
    if parser is None:
        return RtcpUnknown(packet_type, count, body), end
    return parser(count, body), end


def _strip_padding(body: bytes, padded: bool) -> bytes:
    if not padded:
        return body
    if not body or body[-1] == 0 or body[-1] > len(body):
        raise RtpError("RTCP padding length is invalid")
    return body[: -body[-1]]


def _wrap(packet_type: int, count: int, body: bytes) -> bytes:
    if count > MAX_COUNT:
        raise RtpError(f"RTCP count {count} exceeds {MAX_COUNT}")
    if len(body) % 4:
        raise RtpError("RTCP body must be a multiple of 4 octets")
    return COMMON_HEADER.pack(2 << 6 | count, packet_type, len(body) // 4) + body


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise RtpError(f"RTCP {what} truncated")


def _parse_blocks(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    size = REPORT_BLOCK.size
    return tuple(ReportBlock.parse(body, offset + i * size) for i in range(count))


def _blocks_bytes(blocks: tuple[ReportBlock, ...]) -> bytes:
    return b"".join(bytes(block) for block in blocks)


def _parse_chunk(body: bytes, offset: int) -> tuple[SdesChunk, int]:
    _need(body, offset + 4, "SDES chunk")
    (ssrc,) = struct.unpack_from("!I", body, offset)
    offset += 4
    items: list[tuple[int, bytes]] = []
    while True:
        _need(body, offset + 1, "SDES item")
        kind = body[offset]
        if kind == 0:
            return SdesChunk(ssrc, tuple(items)), (offset + 4) & ~3
        _need(body, offset + 2 + body[offset + 1], "SDES item")
        length = body[offset + 1]
        items.append((kind, bytes(body[offset + 2 : offset + 2 + length])))
        offset += 2 + length
