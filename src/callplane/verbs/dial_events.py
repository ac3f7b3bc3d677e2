"""``<Dial callbackUrl>``: Plivo's real-time Dial events, one request per event, in order.

=============  ==========  ==============  ===========================================
Event          DialAction  DialBLegStatus  when, and what it adds
=============  ==========  ==============  ===========================================
DialAnswer     answer      answer          a B leg answered (before confirmKey, bridge)
DialConnected  connected   connected       the B leg is bridged to the caller
DialDigits     digits      connected       a ``digitsMatch`` pattern: DialDigitsMatch
                                           (caller) or DialDigitsMatchBLeg (callee)
DialHangup     hangup      hangup          a B leg ended: DialBLegDuration,
                                           DialBLegBillDuration, DialBLegHangupCause
                                           (Q.850), ...CauseName, ...CauseCode, ...Source
=============  ==========  ==============  ===========================================

Every event carries the call's usual parameters (CallUUID, From, To, ...) and
DialALegUUID, DialBLegUUID, DialBLegFrom, DialBLegTo and DialBLegPosition (the
1-based place of the B leg's noun in the Dial). Events are callbacks (design.md
§4, §7): in the outbox before they are sent, retried, and re-sent later by the
outbox worker if they still fail. Each waits for the first attempt of the one
before it, so the customer sees them in the order they happened.
"""

from __future__ import annotations

import asyncio

from callplane.calls.call import Call
from callplane.calls.outbound import OutboundLeg
from callplane.markup.verbs import Dial


class DialEvents:
    def __init__(self, call: Call, verb: Dial, positions: dict[OutboundLeg, int]) -> None:
        self.call = call
        self.url = verb.callback_url
        self.method = verb.callback_method
        self.positions = positions
        self._last: asyncio.Task[None] | None = None

    def answer(self, leg: OutboundLeg) -> None:
        self._send("DialAnswer", "answer", leg, {"DialBLegStatus": "answer"})

    def connected(self, leg: OutboundLeg) -> None:
        self._send("DialConnected", "connected", leg, {"DialBLegStatus": "connected"})

    def digits(self, leg: OutboundLeg, pattern: str, *, b_leg: bool) -> None:
        name = "DialDigitsMatchBLeg" if b_leg else "DialDigitsMatch"
        self._send("DialDigits", "digits", leg, {"DialBLegStatus": "connected", name: pattern})

    def hangup(self, leg: OutboundLeg) -> None:
        record = leg.record
        cause = leg.cause
        self._send(
            "DialHangup",
            "hangup",
            leg,
            {
                "DialBLegStatus": "hangup",
                "DialBLegDuration": str(record.call_duration),
                "DialBLegBillDuration": str(record.bill_duration),
                "DialBLegHangupCause": cause.q850 if cause else "",
                "DialBLegHangupCauseName": record.hangup_cause_name,
                "DialBLegHangupCauseCode": str(record.hangup_cause_code),
                "DialBLegHangupSource": record.hangup_source,
            },
        )

    def _send(self, event: str, action: str, leg: OutboundLeg, extra: dict[str, str]) -> None:
        if not self.url:
            return
        params = self.call.action_params(
            {
                "DialAction": action,
                "DialALegUUID": self.call.uuid,
                "DialBLegUUID": leg.uuid,
                "DialBLegFrom": leg.caller_id,
                "DialBLegTo": leg.record.to_number,
                "DialBLegPosition": str(self.positions.get(leg, 1)),
                **extra,
            }
        )
        params["Event"] = event  # action_params drops the answer URL's Event
        self._last = self.call.services.spawn(self._deliver(params, self._last))

    async def _deliver(self, params: dict[str, str], after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        account = self.call.route.account
        await self.call.services.webhooks.notify(
            self.url,
            self.method,
            params,
            account.auth_token,
            auth_id=account.auth_id,
            reach=self.call.reach,
        )
