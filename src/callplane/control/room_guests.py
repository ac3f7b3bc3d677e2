"""The owner's side of a conference spanning nodes: an internal INVITE from another
node (``calls/room_invite.py``) joins this node's room as a member (docs/cluster.md).

The INVITE must be signed with the cluster secret; anything else gets 403. The member
is a ``Call`` over the INVITE's leg that runs the Conference verb's ``attend`` with
the options the member's node sent, so enter/exit/digits/record callbacks, the
Conference REST API (listing, mute, deaf, kick, hang up, play, speak) and recordings
treat it as any member. It carries the member's own call's uuid, numbers and
parameters, and is not recorded here (``Call.recorded``): the member's node owns that
call, its record and its hangup callback. When the member leaves the room the BYE
carries the exit parameters, so the member's node goes on with its document.
"""

from __future__ import annotations

import logging
import time

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.leg import InboundLeg
from callplane.calls.room_invite import (
    MEMBER,
    ForgedInvite,
    MemberInvite,
    Replays,
    exit_header,
    read_member,
)
from callplane.control.services import Services
from callplane.markup.verbs import Dialect
from callplane.net.sip_transport import SipTransport
from callplane.sip.events import RequestReceived
from callplane.store.models import CallRecord, Number, Route
from callplane.store.store import Store
from callplane.verbs.conference import attend

log = logging.getLogger("callplane.cluster")


def is_internal(event: RequestReceived) -> bool:
    return event.request.headers.get(MEMBER) is not None


class RoomGuests:
    def __init__(self, services: Services, store: Store, secret: bytes) -> None:
        self.services = services
        self.store = store
        self.secret = secret
        self.replays = Replays()

    def on_invite(self, event: RequestReceived, sip: SipTransport) -> None:
        """Refuse a forged internal INVITE (403), else join its member to the room."""
        request, txn = event.request, event.transaction
        try:
            member = read_member(request.headers.get, self.secret, time.time(), self.replays)
        except ForgedInvite as exc:
            log.warning("internal INVITE from %s:%s refused: %s", *event.source, exc)
            sip.send_response(txn, sip.endpoint.response(txn, 403, "Forbidden"))
            return
        settings = self.services.settings
        leg = InboundLeg(sip, txn, settings.public_host, self.services.ports, settings.sip_host)
        leg.respond(100)
        self.services.spawn(self._join(leg, member))

    async def _join(self, leg: InboundLeg, member: MemberInvite) -> None:
        account = await self.store.get_account(member.auth_id)
        if leg.txn.final_sent:  # cancelled meanwhile
            return
        if account is None or not account.enabled:
            leg.respond(404, "Not Found")
            return
        number = Number(member.to_number, account.auth_id)
        record = CallRecord(
            call_uuid=member.call_uuid,
            auth_id=account.auth_id,
            from_number=member.from_number,
            to_number=member.to_number,
            call_direction=member.direction,
            caller_name=member.caller_name,
        )
        route = Route(number, account, None)
        call = Call(self.services, route, leg, record, dict(member.params), ())
        call.recorded = False
        call.dialect = Dialect(member.dialect) if member.dialect else None
        call.note(f"Conference {member.verb.name}: a member from node {member.node}")
        self.services.by_call_id[leg.invite.call_id] = call
        self.services.guests[call.uuid] = call
        call.task = self.services.spawn(self._stay(call, leg, member))

    async def _stay(self, call: Call, leg: InboundLeg, member: MemberInvite) -> None:
        try:
            params = await attend(call, member.verb, here=True)
            if not call.ended:  # left the room: the member's node goes on with its document
                call.finish(causes.NORMAL_HANGUP, causes.SOURCE_PLATFORM)
                await leg.bye((exit_header(params),))
        finally:
            if self.services.guests.get(call.uuid) is call:
                del self.services.guests[call.uuid]
            if not call.ended:  # cancelled or failed: a BYE without exit ends the call
                self.services.spawn(call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_PLATFORM))
