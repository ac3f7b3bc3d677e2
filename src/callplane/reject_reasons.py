"""Why a call is refused before answer, and the SIP response each reason sends
(docs/design.md section 3).

The one list of reasons: the Reject verb (markup), block rules (store), the CLI's
``--reason`` and the hangup causes (calls/causes.py) all take theirs from here. It
sits outside the layered packages, like errors.py, because markup and store are
siblings at the bottom layer and may not import each other.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    REJECTED = "rejected"
    BUSY = "busy"
    FORBIDDEN = "forbidden"
    ANONYMITY_DISALLOWED = "anonymity_disallowed"
    ADDRESS_INCOMPLETE = "address_incomplete"
    NO_ROUTE = "no_route"
    SERVICE_UNAVAILABLE = "service_unavailable"
    UNWANTED = "unwanted"


REJECT_SIP: dict[RejectReason, tuple[int, str]] = {
    RejectReason.REJECTED: (603, "Decline"),
    RejectReason.BUSY: (486, "Busy Here"),
    RejectReason.FORBIDDEN: (403, "Forbidden"),
    RejectReason.ANONYMITY_DISALLOWED: (433, "Anonymity Disallowed"),
    RejectReason.ADDRESS_INCOMPLETE: (484, "Address Incomplete"),
    RejectReason.NO_ROUTE: (404, "Not Found"),
    RejectReason.SERVICE_UNAVAILABLE: (503, "Service Unavailable"),
    RejectReason.UNWANTED: (607, "Unwanted"),
}
