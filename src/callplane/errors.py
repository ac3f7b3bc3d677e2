"""The exception tree of Callplane.

Foreign exceptions (socket, httpx, XML, JSON, SQL) are translated once, at the
boundary where they occur, into one of these::

    CallplaneError
     +-- SipError
     |    +-- SipParseError         malformed SIP message (answer 400 or drop)
     +-- RtpError                    bad RTP/RTCP bytes, no RTP port (rtp/errors.py)
     |    +-- PortsExhausted          the --rtp-ports range is used up (net/ports.py)
     +-- MediaError                  TTS, audio fetch, recording (media/errors.py)
     +-- MarkupError                 answer document invalid (names element/attribute)
     +-- WebhookError                a customer URL failed (timeout, connect, HTTP status)
     +-- NotFound                    an API/CLI lookup found nothing
     +-- ValidationError             an API/CLI field is bad (names the field)
          +-- FlowError               a flow document is malformed (flows/model.py)
"""

from __future__ import annotations


class CallplaneError(Exception):
    """Base of every error Callplane raises on purpose."""


class SipError(CallplaneError):
    """A SIP protocol error."""


class SipParseError(SipError):
    """Bytes that are not a valid SIP message.

    ``partial`` holds whatever could be read (start line and headers) so that a
    ``400 Bad Request`` can still be built when Via, From, To, Call-ID and CSeq
    were readable; it is ``None`` when nothing usable was found.
    """

    def __init__(self, message: str, partial: object | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class MarkupError(CallplaneError):
    """An answer document that cannot be executed.

    ``element`` and ``attribute`` name the culprit where known, so the call
    log can tell the customer exactly what to fix.
    """

    def __init__(self, message: str, element: str | None = None, attribute: str | None = None):
        where = element or ""
        if attribute:
            where = f"{where}@{attribute}" if where else attribute
        super().__init__(f"{where}: {message}" if where else message)
        self.element = element
        self.attribute = attribute
        self.detail = message


class WebhookError(CallplaneError):
    """A request to a customer URL failed.

    ``status`` is the HTTP status when one was received, else ``None`` (timeout,
    connection refused, bad URL).
    """

    def __init__(self, message: str, url: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status


class NotFound(CallplaneError):
    """A lookup by id found nothing."""


class ValidationError(CallplaneError):
    """A request field is missing or invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
