"""In-dialog offers on an answered leg (re-INVITE, UPDATE): hold, resume, move media.

RFC 3264 §8: the answer mirrors the offer's direction (``sip/sdp.py``). An offer
that wants nothing from us (``sendonly``, ``inactive``, RFC 2543's ``c=0.0.0.0``)
puts the leg on hold: its ``RtpSession`` stops sending, whoever feeds it (a verb,
a bridge). A later ``sendrecv`` offer resumes; a new address, port or codec
re-points the session. A re-INVITE without SDP gets our offer as it stands; the
answer in its ACK is not read (media keeps its current remote).
"""

from __future__ import annotations

import logging

from callplane.calls.leg import point_at
from callplane.errors import SipParseError
from callplane.net.rtp_session import RtpSession
from callplane.net.sip_transport import SipTransport
from callplane.sip.sdp import (
    NULL_ADDRESSES,
    Answer,
    build_answer,
    build_offer,
    parse_sdp,
)
from callplane.sip.transaction import ServerTransaction

log = logging.getLogger("callplane.calls")


def answer_reoffer(session: RtpSession, body: bytes, host: str) -> Answer | None:
    """Our answer to an in-dialog offer, applied to ``session``; None when unusable (488)."""
    try:
        answer = build_answer(parse_sdp(body), host, session.local_port)
    except SipParseError as exc:
        log.info("bad SDP in an in-dialog offer: %s", exc)
        return None
    if answer is None:
        return None
    if answer.remote[0] in NULL_ADDRESSES:
        session.on_hold = True  # nowhere to send; keep the old remote for the resume
    else:
        point_at(session, answer)
    return answer


def respond_to_reoffer(
    sip: SipTransport, txn: ServerTransaction, session: RtpSession | None, host: str
) -> str:
    """Answer ``txn`` (a re-INVITE or UPDATE in a matched dialog); what happened, for the log."""
    request = txn.request
    if session is None:
        _send(sip, txn, host, 488)
        return "in-dialog offer before media: refused 488"
    if not request.body:
        if request.method != "INVITE":
            _send(sip, txn, host, 200)
            return "UPDATE without SDP"
        _send(sip, txn, host, 200, build_offer(host, session.local_port))
        return "re-INVITE without SDP: offered our media"
    answer = answer_reoffer(session, request.body, host)
    if answer is None:
        _send(sip, txn, host, 488)
        return f"{request.method} with an unusable SDP offer: refused 488"
    _send(sip, txn, host, 200, answer.body)
    return f"{request.method}: {'on hold' if session.on_hold else 'media'} ({answer.direction})"


def _send(
    sip: SipTransport, txn: ServerTransaction, host: str, status: int, sdp: bytes = b""
) -> None:
    headers: list[tuple[str, str]] = []
    if status == 200 and txn.request.method == "INVITE":  # a target refresh (§12.2.2)
        port = sip.local_address[1]
        headers.append(("Contact", f"<sip:{host}:{port};transport={txn.transport.lower()}>"))
    if sdp:
        headers.append(("Content-Type", "application/sdp"))
    sip.send_response(txn, sip.endpoint.response(txn, status, headers=headers, body=sdp))
