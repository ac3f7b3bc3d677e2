"""A Conference member whose room another cluster node owns (docs/cluster.md).

The call is bridged, as Dial bridges a callee (``media/bridge.py``: audio both ways,
digits relayed), to an internal INVITE to the owner's SIP address, signed as coming
from a node (``calls/room_invite.py``). The owner joins that leg to the room with the
member's options, so the room's audio, callbacks, REST control and recording are all
the owner's. The caller hanging up ends the internal leg (BYE); the owner's BYE ends
the membership: with the exit parameters the document goes on (action URL, else the
next verb), without them (the owner hung the member up) the call ends.
"""

from __future__ import annotations

import asyncio
import time

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.outbound import Destination, OutboundLeg
from callplane.calls.room_invite import EXIT, MemberInvite, member_headers, read_exit
from callplane.calls.services import RoomHomes
from callplane.markup.verbs import Conference
from callplane.media.bridge import Bridge

SETUP_SECONDS = 10.0  # the owner answers at once; longer means it is not there

Params = dict[str, str]


async def attend_remotely(
    call: Call, verb: Conference, home: tuple[str, int], homes: RoomHomes
) -> Params:
    """Stay in the room at ``home`` until leaving; what the action URL gets."""
    params = {"ConferenceName": verb.name, "ConferenceUUID": "", "ConferenceMemberID": ""}
    host, port = home
    destination = Destination(f"sip:conference@{host}:{port}", home)
    record = call.record
    leg = OutboundLeg(call, destination, record.from_number, record.caller_name, internal=True)
    invite = MemberInvite(
        call.route.account.auth_id,
        verb,
        call.uuid,
        record.from_number,
        record.to_number,
        record.call_direction,
        record.caller_name,
        call.sip_headers,
        call.dialect.value if call.dialect else "",
        homes.node,
    )
    leg.extra_headers = member_headers(invite, homes.secret, time.time())
    changed = asyncio.Event()
    leg.on_change = changed.set
    try:
        await leg.start()
        async with asyncio.timeout(SETUP_SECONDS):
            while not (leg.answered or leg.ended.is_set()):
                changed.clear()
                await changed.wait()
        if not leg.answered or leg.rtp is None:
            why = f"Conference {verb.name}: the node owning it refused ({leg.sip_code})"
            call.note(why, "error")
            return {**params, "ConferenceAction": "exit"}
        call.note(f"Conference {verb.name}: joined on the node at {host}:{port}")
        async with Bridge(call.media, leg.rtp):
            await leg.ended.wait()
    except TimeoutError:
        call.note(f"Conference {verb.name}: the node owning it did not answer", "error")
        leg.give_up(causes.DESTINATION_FAILED)
        return {**params, "ConferenceAction": "exit"}
    except asyncio.CancelledError:  # the caller hung up, or the REST API moved the call
        call.services.spawn(leg.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER))
        raise
    left = read_exit(leg.far_bye.headers.get(EXIT) if leg.far_bye is not None else None)
    if left is None:  # the owner hung the member's call up (REST API, or it stopped)
        call.note(f"Conference {verb.name}: hung up by the node owning it")
        await call.hangup(causes.API_HANGUP, causes.SOURCE_API)
        return params
    return {**params, **left}
