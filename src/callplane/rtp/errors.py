"""Errors of the RTP layer.

To be hung under ``CallplaneError`` in ``callplane/errors.py``::

    CallplaneError
     +-- RtpError                malformed RTP/RTCP/RFC 4733 data, bad stream use
          +-- PortsExhausted     no free RTP port pair left (net/ports.py)
"""

from __future__ import annotations

from callplane.errors import CallplaneError


class RtpError(CallplaneError):
    """Bytes that are not valid RTP, RTCP or RFC 4733 data, or a misused stream."""
