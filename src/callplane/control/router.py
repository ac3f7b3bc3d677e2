"""Turns SIP events into calls: which account, number and application; screening first.

Order for a new INVITE: a conference member sent by another cluster node
(``room_guests.py``), then endpoint or number, trunk check, the account's inbound
calls/s (refused without a record), then the call with its record, screening
(blocklist, concurrency caps) and its document or flow.

``on_event`` is called by the SIP transport for every event, synchronously; it
answers what it can at once and spawns one task per accepted call.
"""

from __future__ import annotations

import logging
import string

from callplane.calls import causes
from callplane.calls.call import Call, new_call_uuid, utcnow
from callplane.calls.leg import InboundLeg
from callplane.calls.outbound import OutboundLegs
from callplane.calls.registrar import Registrar
from callplane.calls.reoffer import respond_to_reoffer
from callplane.calls.trunks import InboundTrunks, Verdict
from callplane.calls.twilio_params import twilio_call_ids
from callplane.control import session
from callplane.control.endpoint_calls import EndpointCalls, Refusal, from_user
from callplane.control.room_guests import RoomGuests, is_internal
from callplane.control.screening import blocked_reason, caller_digits, is_anonymous
from callplane.control.services import Services
from callplane.errors import SipError
from callplane.logs import CALL_UUID
from callplane.markup.verbs import Dialect
from callplane.net.sip_transport import SipTransport
from callplane.sip.endpoint import DRAINING_RETRY_AFTER
from callplane.sip.events import AckReceived, BadMessage, CancelReceived, Event, RequestReceived
from callplane.sip.message import Request
from callplane.sip.uri import SipUri
from callplane.store.models import CallRecord, Route
from callplane.store.store import Store

log = logging.getLogger("callplane.calls")

VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")
PASSED_HEADER_PREFIX = "x-ph-"


def dialed_number(request: Request) -> str:
    """The number dialed: the Request-URI user, else the To user, as digits."""
    for uri in (request.sip_uri, request.to_addr.uri):
        user = uri.user if isinstance(uri, SipUri) else None
        if user:
            digits = user.lstrip("+").translate(VISUAL_SEPARATORS)
            return digits if digits and set(digits) <= set(string.digits) else ""
    return ""


def passed_headers(request: Request) -> dict[str, str]:
    """SIP ``X-PH-*`` headers, passed to the answer URL as Plivo does."""
    return {
        name: value
        for name, value in request.headers
        if name.lower().startswith(PASSED_HEADER_PREFIX)
    }


DTMF_KEYS = frozenset("0123456789*#ABCD")
CHALLENGES = (401, 407)  # the INVITE comes again with credentials: its trace goes on


def info_digit(request: Request) -> str | None:
    """The key in a SIP INFO DTMF body (``Signal=5`` or a bare ``5``), if any."""
    kind = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = request.body.decode("utf-8", "replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                text = value.strip()
                break
        else:
            return None
    elif kind != "application/dtmf":
        return None
    key = {"10": "*", "11": "#"}.get(text, text).upper()
    return key if key in DTMF_KEYS else None


class Router:
    def __init__(
        self,
        services: Services,
        store: Store,
        sip: SipTransport | None = None,
        registrar: Registrar | None = None,
    ):
        self.services = services
        self.store = store
        self.sip = sip
        self.registrar = registrar
        self.loop_time = services.clock
        if services.outbound is None:
            services.outbound = OutboundLegs(registrar)
        settings = services.settings
        self.inbound = InboundTrunks(trunk_only=settings.trunk_only, nonce_ttl=settings.nonce_ttl)
        self.failures = services.auth_failures
        self.guests: RoomGuests | None = None  # members other nodes send (docs/cluster.md)
        self.endpoint_calls = (
            EndpointCalls(store, registrar, services.settings.public_host)
            if registrar is not None
            else None
        )

    def on_event(self, event: Event) -> None:
        token = None
        try:
            request = getattr(event, "request", None)
            call = self.services.by_call_id.get(request.call_id) if request is not None else None
            if call is not None:
                token = CALL_UUID.set(call.uuid)  # what this event logs names the call
            self._dispatch(event)
        except SipError as exc:  # a request the parser let through but we cannot use
            log.info("unusable SIP request: %s", exc)
        finally:
            if token is not None:
                CALL_UUID.reset(token)

    def _dispatch(self, event: Event) -> None:
        outbound = self.services.outbound
        if outbound is not None and outbound.on_event(event):
            return  # a Dial's B leg: its responses and in-dialog requests
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, AckReceived):
            call = self.services.by_call_id.get(event.request.call_id)
            if call is not None:
                call.leg.on_ack(event.request)
        elif isinstance(event, CancelReceived):
            call = self.services.by_call_id.get(event.request.call_id)
            if call is not None:
                call.remote_hangup()
            else:
                self._respond(event.transaction, 487)
        elif isinstance(event, BadMessage):
            log.info("bad SIP message from %s:%s: %s", *event.source, event.error)

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        if request.method == "INVITE" and request.to_addr.tag is None:
            self._new_call(event)
        elif request.method == "BYE":
            self._on_bye(event)
        elif request.method in ("INVITE", "UPDATE"):
            self._on_reoffer(event)
        elif request.method == "INFO":
            self._on_info(event)
        elif request.method == "NOTIFY":
            self._respond(event.transaction, 200 if self._call_of(request) else 481)
        elif request.method == "REGISTER" and self.registrar is not None:
            assert self.sip is not None
            self.registrar.on_register(event, self.sip)
        else:
            assert self.sip is not None
            self._respond(event.transaction, 501, (("Allow", self.sip.endpoint.allow),))

    def _call_of(self, request: Request) -> Call | None:
        call = self.services.by_call_id.get(request.call_id)
        dialog = call.leg.dialog if call else None
        return call if dialog is not None and dialog.matches(request) else None

    def _on_reoffer(self, event: RequestReceived) -> None:
        """re-INVITE / UPDATE in an A leg's dialog: hold, resume, new media address."""
        call = self._call_of(event.request)
        if call is None:
            self._respond(event.transaction, 481)
            return
        assert self.sip is not None
        session = call.leg.media.session if call.leg.media is not None else None
        host = self.services.settings.public_host
        call.note(respond_to_reoffer(self.sip, event.transaction, session, host))

    def _on_info(self, event: RequestReceived) -> None:
        """SIP INFO: DTMF as application/dtmf-relay or application/dtmf."""
        call = self._call_of(event.request)
        self._respond(event.transaction, 481 if call is None else 200)
        digit = info_digit(event.request)
        if call is not None and digit and call.leg.media is not None:
            call.leg.media.add_digit(digit)

    def _on_bye(self, event: RequestReceived) -> None:
        call = self._call_of(event.request)
        self._respond(event.transaction, 481 if call is None else 200)
        if call is not None:
            call.remote_hangup()

    def _respond(self, txn, status: int, headers: tuple[tuple[str, str], ...] = ()) -> None:
        assert self.sip is not None
        self.sip.send_response(txn, self.sip.endpoint.response(txn, status, headers=headers))
        if status not in CHALLENGES:  # an INVITE refused before it became a call
            self.services.tracer.forget(txn.request.call_id)

    def _new_call(self, event: RequestReceived) -> None:
        """An endpoint's own call (control/endpoint_calls.py), else routed by the dialed number."""
        ip = event.source[0]
        if is_internal(event):  # a conference member from another node, even while draining
            if self.guests is None:
                self._refuse(event, "not_a_cluster", 403)
            else:
                assert self.sip is not None
                self.guests.on_invite(event, self.sip)
            return
        if self.services.node.draining:
            self._refuse(event, "draining", 503, (("Retry-After", DRAINING_RETRY_AFTER),))
            return
        if self.failures.banned(ip):
            self._refuse(event, "banned", 403)
            return
        route = self.store.route(dialed_number(event.request))
        found = None
        if self.endpoint_calls is not None:
            found = self.endpoint_calls.check(event.request, ip, route, self.loop_time())
        if found is None:
            self._number_call(event, route)
        elif isinstance(found, Refusal):
            if found.failed_auth:
                self.failures.failed(ip, from_user(event.request), f"INVITE: {found.why}")
            else:
                log.info("INVITE from %s:%s: %d, %s", *event.source, found.status, found.why)
            self._refuse(event, "endpoint", found.status, found.headers)
        else:
            endpoint = found.endpoint
            note = f"from endpoint {endpoint.username} ({endpoint.endpoint_id})"
            self._start_call(event, found.route, note, found.missing_app_note, found.caller)

    def _number_call(self, event: RequestReceived, route: Route | None) -> None:
        request = event.request
        if route is None:
            log.info("INVITE for unknown number %r from %s", request.uri, event.source)
            self._refuse(event, "unknown_number", 404)
            return
        verdict = self._check_trunk(event, route)
        if verdict.status:
            self.services.metrics.calls_refused.labels("trunk").inc()
            return
        trunk = verdict.trunk
        note = f"from trunk {trunk.name} ({trunk.trunk_id})" if trunk is not None else ""
        missing_app = (
            f"number {route.number.number} has no application: assign one with "
            "`callplane numbers update NUMBER --app APP_ID`"
        )
        self._start_call(event, route, note, missing_app)

    def _start_call(
        self,
        event: RequestReceived,
        route: Route,
        note: str,
        missing_app: str,
        caller: str | None = None,
    ) -> None:
        assert self.sip is not None
        request, txn = event.request, event.transaction
        if not self._within_cps(route):
            self._refuse(event, "inbound_cps", 486)
            return
        settings = self.services.settings
        leg = InboundLeg(
            self.sip, txn, settings.public_host, self.services.ports, settings.sip_host
        )
        leg.on_final = self.services.metrics.call_setup.observe
        call = self._make_call(route, leg, request, caller)
        self.services.tracer.claim(call, request.call_id, event.source, self.sip.local_address)
        token = CALL_UUID.set(call.uuid)  # the call's tasks copy it: their log lines name it
        try:
            self._run_call(call, route, note, missing_app)
        finally:
            CALL_UUID.reset(token)

    def _run_call(self, call: Call, route: Route, note: str, missing_app: str) -> None:
        """A call refused here gets its final response without a 100 Trying first: the
        100 is owed only when the final response may take over 200 ms (RFC 3261
        §17.2.1), and skipping it saves a datagram per refused call."""
        request = call.leg.invite
        assert request is not None  # an incoming call's leg has its INVITE
        if note:
            call.note(note)
        refusal = self._screen(route, call)
        self.services.call_started(call, request.call_id)
        if refusal is not None:
            call.note(refusal[1])
            self.services.metrics.calls_refused.labels(refusal[2]).inc()
            call.reject(refusal[0], causes.SOURCE_PLATFORM)
        elif route.flow is not None and self.services.flows is not None:
            call.leg.respond(100)
            call.task = self.services.spawn(self.services.flows.run_call(call, route.flow))
        elif route.application is None:
            call.note(missing_app, "error")
            self.services.metrics.calls_refused.labels("no_application").inc()
            call.refuse(
                480, "Temporarily Unavailable", causes.NO_APPLICATION, causes.SOURCE_PLATFORM
            )
        else:
            call.leg.respond(100)
            call.task = self.services.spawn(session.run(call))

    def _check_trunk(self, event: RequestReceived, route: Route) -> Verdict:
        """Which of the account's trunks the INVITE comes from (docs/trunks.md); a
        refusal (403, or 407 with a challenge) is answered here."""
        trunks = self.services.trunks.of(route.account)
        verdict = self.inbound.check(trunks, event.request, event.source[0], self.loop_time())
        if verdict.status:
            if verdict.failed_auth:
                user = verdict.username
                self.failures.failed(event.source[0], user, f"INVITE: {verdict.why}")
            else:
                log.info("INVITE from %s:%s: %d, %s", *event.source, verdict.status, verdict.why)
            assert self.sip is not None
            txn = event.transaction
            response = self.sip.endpoint.response(txn, verdict.status, headers=verdict.headers)
            self.sip.send_response(txn, response)
            if verdict.status not in CHALLENGES:
                self.services.tracer.forget(txn.request.call_id)
        return verdict

    def _make_call(
        self, route: Route, leg: InboundLeg, request: Request, caller: str | None = None
    ) -> Call:
        """``caller``: an endpoint's ``sip:username@host``, else the From user is the caller."""
        sender = request.from_addr
        user = sender.uri.user if isinstance(sender.uri, SipUri) else ""
        account = route.account
        record = CallRecord(
            call_uuid=new_call_uuid(),
            auth_id=account.auth_id,
            from_number=caller or (user or "").lstrip("+"),
            to_number=route.number.number,
            caller_name=sender.display_name or "",
            app_id=route.application.app_id if route.application else None,
            initiation_time=utcnow(),
            total_rate=f"{float(account.rate_per_minute):.5f}",
        )
        keys = [f"endpoint:{caller}" if caller else f"number:{route.number.number}"]
        if route.application:
            keys.append(f"app:{route.application.app_id}")
        extra = passed_headers(request)
        if route.application and route.application.dialect == Dialect.TWIML:
            extra.update(twilio_call_ids(record))
        return Call(self.services, route, leg, record, extra, tuple(keys))

    def _screen(self, route: Route, call: Call) -> tuple[str, str, str] | None:
        """(reject reason, why, metrics cause) when screening refuses the call."""
        request = call.leg.invite
        assert request is not None  # an incoming call's leg has its INVITE
        from_user = call.record.from_number
        anonymous = is_anonymous(from_user, request.headers.get("Privacy"))
        reason = blocked_reason(route.block_rules, caller_digits(from_user), anonymous)
        if reason:
            return reason, f"caller {from_user or 'anonymous'} is on the blocklist", "blocklist"
        caps = [(f"number:{route.number.number}", route.number.max_concurrent_calls)]
        if route.application:
            caps.append((f"app:{route.application.app_id}", route.application.max_concurrent_calls))
        if self.services.limits.over_cap(caps):
            return "busy", "maximum concurrent calls reached", "concurrency"
        return None

    def _within_cps(self, route: Route) -> bool:
        """The account's inbound calls/s, checked before any per-call work: a call over
        it is answered 486 and only counted (``services.guard``), without a record or a
        callback, so a flood cannot turn into as many records and webhooks."""
        account = route.account
        if self.services.limits.cps_allows(account.auth_id, account.inbound_cps, self.loop_time()):
            return True
        self.services.guard.refused("inbound_cps", account.auth_id)
        return False

    def trusted_source(self, source_ip: str) -> bool:
        """A trunk's ACL address or a registered endpoint's source: exempt from the
        per-source request limit and bans (net/guard.py)."""
        if self.services.trunks.in_any_acl(source_ip):
            return True
        return self.registrar is not None and self.registrar.any_registered_from(source_ip)

    def _refuse(
        self,
        event: RequestReceived,
        cause: str,
        status: int,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Answer a new INVITE refused before it became a call (no record), counted."""
        self.services.metrics.calls_refused.labels(cause).inc()
        self._respond(event.transaction, status, headers)

    def stop_all(
        self,
        cause: causes.Cause = causes.PROCESS_STOPPED,
        why: str = "Callplane stopped while the call was live",
    ) -> None:
        """End every live call because the process stops (503 or BYE)."""
        for call in [*self.services.live.values(), *self.services.guests.values()]:
            call.note(why, "error")
            if call.answered:
                self.services.spawn(call.hangup(cause, causes.SOURCE_PLATFORM))
            else:
                call.refuse(503, "Service Unavailable", cause, causes.SOURCE_PLATFORM)
            if call.task:
                call.task.cancel()
