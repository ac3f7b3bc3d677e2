"""What a placed call asks for (``POST /Call/``, a flow's Initiate Call) and how its
ringing ended; ``control/originate.py`` places it."""

from __future__ import annotations

from dataclasses import dataclass

from callplane.calls.causes import Cause
from callplane.markup.verbs import Document

DEFAULT_RING_TIMEOUT = 120  # seconds, Plivo's default
DEFAULT_TIME_LIMIT = 14400  # seconds, Plivo's default


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What ``POST /Call/`` asks for, for every destination of the request."""

    from_number: str
    answer_url: str
    answer_method: str = "POST"
    ring_url: str = ""
    ring_method: str = "POST"
    hangup_url: str = ""  # "" = answer_url
    hangup_method: str = "POST"
    fallback_url: str = ""
    fallback_method: str = "POST"
    caller_name: str = ""
    time_limit: int = DEFAULT_TIME_LIMIT
    hangup_on_ring: int = 0  # 0 = let it ring
    ring_timeout: int = DEFAULT_RING_TIMEOUT
    send_digits: str = ""
    sip_headers: tuple[tuple[str, str], ...] = ()  # sent on the INVITE (X-PH-*)
    # The Twilio-compatible API (api/twilio_calls.py): an inline document run instead
    # of fetching answer_url, Twilio's status callbacks, and Twilio's parameter names.
    document: Document | None = None
    twilio: TwilioCallbacks | None = None


@dataclass(frozen=True, slots=True)
class TwilioCallbacks:
    """Twilio's ``StatusCallback``: which of initiated/ringing/answered/completed to send.

    A call placed with these sends Twilio's ids (``CallSid`` = ``CA...``,
    ``AccountSid`` = ``AC...``) and ``Direction=outbound-api`` to every URL, and no
    hangup callback unless ``completed`` is asked for.
    """

    url: str = ""
    method: str = "POST"
    events: frozenset[str] = frozenset({"completed"})


@dataclass(frozen=True, slots=True)
class Ringing:
    """How ringing a placed call ended: answered, or not, and then why."""

    answered: bool
    rang: bool  # a 180 or 183 came
    cause: Cause | None = None  # what ended the unanswered call


def is_sip_uri(to: str) -> bool:
    return to.lower().startswith(("sip:", "sips:"))
