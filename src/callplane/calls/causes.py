"""How calls end: Plivo-style hangup causes and their SIP and Q.850 equivalents.

Plivo reports ``HangupCauseName`` / ``HangupCauseCode`` / ``HangupSource`` and a
FreeSWITCH-style ``HangupCause`` (Q.850 name). Codes 4000, 4010 and 1000 are
Plivo's published ones; the 3xxx, 7xxx and 8xxx codes below are ours, chosen in
Plivo's bands (destination refusals, XML errors, URL errors) and documented in
docs/hangup-causes.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from callplane.reject_reasons import RejectReason


@dataclass(frozen=True, slots=True)
class Cause:
    name: str  # HangupCauseName
    code: int  # HangupCauseCode
    q850: str  # HangupCause
    call_status: str  # CallStatus reported for the call


NORMAL_HANGUP = Cause("Normal Hangup", 4000, "NORMAL_CLEARING", "completed")
END_OF_XML = Cause("End Of XML Instructions", 4010, "NORMAL_CLEARING", "completed")
CANCELLED = Cause("Canceled", 1000, "ORIGINATOR_CANCEL", "cancel")
REJECTED = Cause("Rejected", 3010, "CALL_REJECTED", "no-answer")
BUSY = Cause("Busy Line", 3000, "USER_BUSY", "busy")
FORBIDDEN = Cause("Forbidden", 3020, "CALL_REJECTED", "failed")
ANONYMITY_DISALLOWED = Cause("Anonymity Disallowed", 3030, "CALL_REJECTED", "failed")
ADDRESS_INCOMPLETE = Cause("Address Incomplete", 3040, "INVALID_NUMBER_FORMAT", "failed")
NO_ROUTE = Cause("No Route", 3050, "NO_ROUTE_DESTINATION", "failed")
SERVICE_UNAVAILABLE = Cause("Service Unavailable", 3060, "NORMAL_TEMPORARY_FAILURE", "failed")
UNWANTED = Cause("Unwanted", 3070, "CALL_REJECTED", "failed")
ANSWER_URL_FAILED = Cause("Error Reaching Answer URL", 8011, "NORMAL_TEMPORARY_FAILURE", "failed")
INVALID_ANSWER_XML = Cause("Invalid Answer XML", 7011, "NORMAL_TEMPORARY_FAILURE", "failed")
UNSUPPORTED_VERB = Cause("Unsupported XML Element", 7021, "FACILITY_NOT_IMPLEMENTED", "failed")
NO_COMMON_CODEC = Cause("Incompatible Media", 3080, "INCOMPATIBLE_DESTINATION", "failed")
PROCESS_STOPPED = Cause("Callplane Stopped", 5090, "SYSTEM_SHUTDOWN", "failed")
# A draining node (SIGTERM, `callplane node drain`) ends what outlives --drain-timeout.
NODE_DRAINED = Cause("Node Drained", 5091, "SYSTEM_SHUTDOWN", "completed")
# A cluster node died with the call live; a surviving node closed it (docs/cluster.md).
NODE_LOST = Cause("Node Lost", 5092, "SYSTEM_SHUTDOWN", "failed")

REJECT_CAUSES: dict[RejectReason, Cause] = {
    RejectReason.REJECTED: REJECTED,
    RejectReason.BUSY: BUSY,
    RejectReason.FORBIDDEN: FORBIDDEN,
    RejectReason.ANONYMITY_DISALLOWED: ANONYMITY_DISALLOWED,
    RejectReason.ADDRESS_INCOMPLETE: ADDRESS_INCOMPLETE,
    RejectReason.NO_ROUTE: NO_ROUTE,
    RejectReason.SERVICE_UNAVAILABLE: SERVICE_UNAVAILABLE,
    RejectReason.UNWANTED: UNWANTED,
}

# HangupSource values, as Plivo names them ("Callplane" stands where Plivo says "Plivo").
SOURCE_CALLER = "Caller"
SOURCE_XML = "Answer XML"
SOURCE_PLATFORM = "Callplane"
SOURCE_ERROR = "Error"
UNANSWERED_END_OF_XML = Cause("End Of XML Instructions", 4010, "NORMAL_CLEARING", "no-answer")
INTERNAL_ERROR = Cause("Internal Error", 5000, "NORMAL_TEMPORARY_FAILURE", "failed")
NO_APPLICATION = Cause("No Application", 3090, "NO_ROUTE_DESTINATION", "failed")
API_HANGUP = Cause("Normal Hangup", 4000, "NORMAL_CLEARING", "completed")
API_CANCEL = Cause("Canceled", 1000, "ORIGINATOR_CANCEL", "cancel")
SOURCE_API = "API Request"

# -- Dial: how a B leg ended ------------------------------------------------------------
# ``call_status`` of these causes is also the DialStatus they give (completed, busy,
# failed, timeout, no-answer); ``q850`` is DialHangupCause. See verbs/dial.py.
SOURCE_CALLEE = "Call recipient"  # Plivo's name for the dialled party
NO_ANSWER = Cause("No Answer", 3100, "NO_ANSWER", "no-answer")
DIAL_TIMEOUT = Cause("Destination Timeout", 3110, "RECOVERY_ON_TIMER_EXPIRE", "timeout")
DIAL_DECLINED = Cause("Rejected", 3010, "CALL_REJECTED", "busy")
UNALLOCATED_NUMBER = Cause("Invalid Destination", 3120, "UNALLOCATED_NUMBER", "failed")
NO_USER_RESPONSE = Cause("No User Response", 3130, "NO_USER_RESPONSE", "no-answer")
AUTH_FAILED = Cause("Authentication Failed", 3140, "CALL_REJECTED", "failed")
DESTINATION_FAILED = Cause("Destination Failure", 3150, "NORMAL_TEMPORARY_FAILURE", "failed")
NO_DESTINATION = Cause("No Route", 3050, "NO_ROUTE_DESTINATION", "failed")
LOST_RACE = Cause("Canceled", 1010, "LOSE_RACE", "cancel")
TIME_LIMIT = Cause("Time Limit Reached", 4020, "ALLOTTED_TIMEOUT", "completed")

# Final SIP responses to our INVITE -> cause (RFC 3398 §7.2.4.1, as FreeSWITCH maps them).
DIAL_SIP_CAUSES: dict[int, Cause] = {
    401: AUTH_FAILED,
    403: FORBIDDEN,
    404: UNALLOCATED_NUMBER,
    407: AUTH_FAILED,
    408: NO_ANSWER,
    480: NO_USER_RESPONSE,
    484: ADDRESS_INCOMPLETE,
    486: BUSY,
    487: CANCELLED,
    488: NO_COMMON_CODEC,
    503: SERVICE_UNAVAILABLE,
    600: BUSY,
    603: DIAL_DECLINED,
    604: UNALLOCATED_NUMBER,
    606: NO_COMMON_CODEC,
    607: UNWANTED,
}


def dial_cause(status: int) -> Cause:
    """The cause of a B leg refused with ``status`` (a final non-2xx response)."""
    return DIAL_SIP_CAUSES.get(status, DESTINATION_FAILED)
