"""Framing SIP messages on a byte stream (RFC 3261 §18.3, RFC 5626 §3.5.1). Sans-IO.

``StreamFramer.feed(data)`` returns complete messages (bytes), ``PING`` for a
CRLFCRLF keep-alive (answer with a single CRLF) and, at most once and last, a
``FramingError``: the stream cannot be framed any more and must be closed,
after sending ``error_response(err)`` when that is not None.
"""

from __future__ import annotations

from dataclasses import dataclass

from callplane.errors import SipParseError
from callplane.sip.ids import new_tag
from callplane.sip.message import Request, Response, SipMessageError, build_response, parse_message

MAX_MESSAGE_SIZE = 65536


class Ping:
    """A CRLFCRLF keep-alive."""


PING = Ping()


@dataclass
class FramingError:
    reason: str
    head: bytes | None
    status: int = 400


Frame = bytes | Ping | FramingError


class StreamFramer:
    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[Frame]:
        if self.broken:
            return []
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)
            if isinstance(frame, FramingError):
                self.broken = True
                self._buffer.clear()
                return frames

    def _next_frame(self) -> Frame | None:
        buffer = self._buffer
        skipped = 0
        while buffer.startswith(b"\r\n", skipped):
            skipped += 2
        if skipped:
            del buffer[:skipped]
            if skipped >= 4:
                return PING
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            too_big = len(buffer) > self.max_size
            return FramingError("headers too large", None, 513) if too_big else None
        head = bytes(buffer[:end])
        try:
            length = content_length(head)
        except SipParseError as exc:
            return FramingError(str(exc), head)
        if length is None:
            return FramingError("missing Content-Length", head)
        total = end + 4 + length
        if total > self.max_size:
            return FramingError("message too large", head, 513)
        if len(buffer) < total:
            return None
        message = bytes(buffer[:total])
        del buffer[:total]
        return message


def content_length(head: bytes) -> int | None:
    """The Content-Length of a header block (None if absent)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            value = value.strip()
            if not value.isdigit():
                raise SipParseError(f"bad Content-Length {value[:20]!r}")
            return int(value)
    return None


def error_response(error: FramingError) -> bytes | None:
    """The response to send before closing, when the head is a readable request."""
    if error.head is None:
        return None
    try:
        request: Request | Response | None = parse_message(error.head + b"\r\n\r\n")
    except SipMessageError as exc:
        request = exc.partial
    if not isinstance(request, Request) or request.method == "ACK":
        return None
    reason = f"Bad Request ({error.reason})" if error.status == 400 else None
    return bytes(build_response(request, error.status, reason, to_tag=new_tag()))
