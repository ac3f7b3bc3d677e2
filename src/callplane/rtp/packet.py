"""RTP fixed header and payload (RFC 3550 section 5.1).

```
 0                   1                   2                   3
|V=2|P|X|  CC   |M|     PT      |       sequence number         |
|                           timestamp                           |
|           synchronization source (SSRC) identifier            |
|            contributing source (CSRC) identifiers             |
```
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from callplane.rtp.errors import RtpError

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")
EXTENSION_HEADER = struct.Struct("!HH")
HEADER_SIZE = HEADER.size


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet; ``extension`` is the header extension body (RFC 3550 5.3.1).

    ``padding`` counts the padding octets (including the final count octet);
    they are written as zeros followed by the count.
    """

    payload_type: int = 0
    sequence: int = 0
    timestamp: int = 0
    ssrc: int = 0
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension_profile: int = 0
    extension: bytes | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < HEADER_SIZE:
            raise RtpError(f"RTP packet too short: {len(data)} bytes")
        first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6} is not 2")
        end = _payload_end(data, first)
        offset = HEADER_SIZE + 4 * (first & 0x0F)
        if offset > end:
            raise RtpError("RTP CSRC list truncated")
        csrc = list(struct.unpack_from(f"!{first & 0x0F}I", data, HEADER_SIZE))
        profile, extension, offset = _parse_extension(data, first, offset, end)
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(second & 0x80),
            csrc=csrc,
            extension_profile=profile,
            extension=extension,
            padding=len(data) - end,
        )

    def __bytes__(self) -> bytes:
        first = RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = self.payload_type & 0x7F | (0x80 if self.marker else 0)
        parts = [HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc)]
        parts.extend(struct.pack("!I", c) for c in self.csrc)
        if self.extension is not None:
            parts.append(_extension_bytes(self.extension_profile, self.extension))
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def _payload_end(data: bytes, first: int) -> int:
    if not first & 0x20:
        return len(data)
    count = data[-1]
    if count == 0 or count > len(data) - HEADER_SIZE:
        raise RtpError(f"RTP padding length {count} is invalid")
    return len(data) - count


def _parse_extension(
    data: bytes, first: int, offset: int, end: int
) -> tuple[int, bytes | None, int]:
    if not first & 0x10:
        return 0, None, offset
    if offset + 4 > end:
        raise RtpError("RTP header extension truncated")
    profile, words = EXTENSION_HEADER.unpack_from(data, offset)
    start = offset + 4
    stop = start + 4 * words
    if stop > end:
        raise RtpError("RTP header extension truncated")
    return profile, bytes(data[start:stop]), stop


def _extension_bytes(profile: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtpError("RTP header extension length must be a multiple of 4")
    return EXTENSION_HEADER.pack(profile, len(body) // 4) + body
