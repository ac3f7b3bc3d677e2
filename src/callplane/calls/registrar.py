"""The registrar (RFC 3261 §10.3): digest-authenticated REGISTER, bindings in memory.

Two layers::

    Registrar    asyncio shell: HA1 lookups in the store, responses, the periodic sweep
     +-- Bindings   sans-IO: contacts per address-of-record, expiry against a given ``now``

The address-of-record is the To user, which must be the digest username of an
endpoint (``POST /v1/Account/{auth_id}/Endpoint/``). No or unusable credentials get
401 with a fresh challenge, a stale, forgotten or replayed nonce 401 with
``stale=true``, an unknown user or a wrong password 403 (the same 403: nothing tells
which) counted against the source by ``AuthFailures``, and a banned source 403
whatever it sends. Each binding keeps the source address and transport of
its REGISTER so calls can reach a phone behind NAT (``Binding.destination``).

Path (RFC 3327): a REGISTER that came through a proxy (Kamailio in front of a
cluster) carries the proxy's ``Path``; the binding keeps it, the 200 echoes it, and
calls to the binding go to the first Path URI with the Path as their Route set, so
they reach the phone through that proxy whichever node places them.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from callplane.errors import SipParseError
from callplane.net.auth_failures import AuthFailures
from callplane.net.bans import Bans
from callplane.net.sip_transport import SipTransport
from callplane.sip.auth import Credentials, DigestServer, Outcome
from callplane.sip.events import Address, RequestReceived
from callplane.sip.message import Request
from callplane.sip.uri import NameAddr, SipUri, parse_name_addr
from callplane.store.secrets import REALM
from callplane.store.store import Store

log = logging.getLogger("callplane.registrar")

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
SWEEP_INTERVAL = 30.0
MAX_DELTA = 2**32 - 1

Ha1Finder = Callable[[str], Awaitable[str | None]]
"""username -> its MD5 HA1 (``md5(username:realm:password)``) or None."""


@dataclass(slots=True)
class Binding:
    """One Contact of an address-of-record, with what its REGISTER came through."""

    aor: str
    contact: NameAddr  # as registered, without the expires parameter
    expires_at: float
    call_id: str
    cseq: int
    source: Address
    transport: str
    path: tuple[str, ...] = ()  # Path header values of its REGISTER, first hop first

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))

    @property
    def contact_address(self) -> Address | None:
        uri = self.contact.uri
        if not isinstance(uri, SipUri) or uri.scheme == "tel":
            return None
        return uri.host, uri.port or (5061 if uri.scheme == "sips" else 5060)

    @property
    def behind_nat(self) -> bool:
        """The Contact is not where the REGISTER came from (a NAT rewrote the source)."""
        return self.contact_address != self.source

    def destination(self) -> tuple[Address, str]:
        """Where requests for this binding go: the first Path URI when it registered
        through a proxy; else the REGISTER's source when behind NAT (or over a
        connection), else the Contact address."""
        if self.path:
            return _hop(self.path[0])
        contact = self.contact_address
        if contact is None or self.behind_nat or self.transport != "UDP":
            return self.source, self.transport
        return contact, self.transport


@dataclass(frozen=True, slots=True)
class Reply:
    """What the registrar answers: a status and extra header fields."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    reason: str | None = None


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class _Change:
    key: str
    contact: NameAddr
    expires: int  # 0 removes


def _hop(route: str) -> tuple[Address, str]:
    """Address and transport of a Path/Route value (``<sip:host:port;lr>``)."""
    uri = parse_name_addr(route).uri
    if not isinstance(uri, SipUri) or uri.scheme not in ("sip", "sips"):
        raise SipParseError(f"not a SIP URI: {route}")
    transport = (uri.params.get("transport") or "udp").upper()
    return (uri.host.strip("[]"), uri.port or (5061 if uri.scheme == "sips" else 5060)), transport


def contact_key(contact: NameAddr) -> str:
    """Bindings are matched by Contact URI (§10.3 step 7, simplified §19.1.4)."""
    uri = contact.uri
    if isinstance(uri, SipUri):
        uri = replace(uri, host=uri.host.lower(), scheme=uri.scheme.lower())
    return str(uri)


def without_expires(contact: NameAddr) -> NameAddr:
    params = {k: v for k, v in contact.params.items() if k != "expires"}
    return NameAddr(contact.display_name, contact.uri, params)


def _delta(text: str | None) -> int | None:
    """A delta-seconds value; None when absent or malformed (§20.19: use the default)."""
    if text is None or not text.strip().isdigit() or not text.isascii():
        return None
    return min(int(text.strip()), MAX_DELTA)


@dataclass
class Bindings:
    """Contacts per address-of-record (sans-IO: every call takes ``now``)."""

    default_expires: int = DEFAULT_EXPIRES
    min_expires: int = MIN_EXPIRES
    max_expires: int = MAX_EXPIRES
    _by_aor: dict[str, dict[str, Binding]] = field(default_factory=dict)

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """Current bindings of ``aor``, the latest to expire first; expired ones dropped."""
        current = self._current(aor, now)
        return sorted(current.values(), key=lambda b: b.expires_at, reverse=True)

    def replace(self, aor: str, bindings: Iterable[Binding]) -> None:
        """``aor``'s bindings are these now (another cluster node registered them)."""
        contacts = {contact_key(b.contact): b for b in bindings}
        if contacts:
            self._by_aor[aor] = contacts
        else:
            self._by_aor.pop(aor, None)

    def sweep(self, now: float) -> int:
        """Drop every expired binding; returns how many went."""
        before = self.count
        for aor in list(self._by_aor):
            self._current(aor, now)
        return before - self.count

    @property
    def count(self) -> int:
        return sum(len(contacts) for contacts in self._by_aor.values())

    def registered_from(self, source_ip: str, now: float) -> bool:
        """Whether a current binding's REGISTER came from ``source_ip`` (a scan: callers
        cache the answer)."""
        return any(
            binding.source[0] == source_ip and binding.expires_at > now
            for contacts in self._by_aor.values()
            for binding in contacts.values()
        )

    def _current(self, aor: str, now: float) -> dict[str, Binding]:
        contacts = self._by_aor.get(aor, {})
        for key in [k for k, b in contacts.items() if b.expires_at <= now]:
            del contacts[key]
        if not contacts:
            self._by_aor.pop(aor, None)
        return contacts

    def register(
        self, aor: str, request: Request, source: Address, transport: str, now: float
    ) -> Reply:
        """Apply one authorised REGISTER for ``aor`` (§10.3 steps 6-8), all or nothing."""
        existing = self._current(aor, now)
        try:
            changes = self._changes(existing, request)
        except _Refused as exc:
            return exc.reply
        path = tuple(request.headers.get_all("Path"))
        try:
            for hop in path:
                _hop(hop)
        except SipParseError as exc:
            return Reply(400, reason=f"Bad Path: {exc}")
        for change in changes:
            self._apply(aor, change, request, source, transport, path, now)
        return self.ok(aor, now, path)

    def ok(self, aor: str, now: float, path: tuple[str, ...] = ()) -> Reply:
        """200 listing every binding with its remaining expires (§10.3 step 8), and the
        REGISTER's Path (RFC 3327 §5.3)."""
        bindings = self.lookup(aor, now)
        contacts = tuple(("Contact", _listed(b, now)) for b in bindings)
        return Reply(200, contacts + tuple(("Path", hop) for hop in path))

    def _changes(self, existing: dict[str, Binding], request: Request) -> list[_Change]:
        values = request.headers.get_all("Contact")
        if "*" in values:
            return self._wildcard(existing, request, values)
        default = _delta(request.headers.get("Expires"))
        changes = [self._change(contact, default) for contact in request.contacts]
        for change in changes:
            _check_order(existing.get(change.key), request)
        return changes

    def _change(self, contact: NameAddr, default: int | None) -> _Change:
        expires = _delta(contact.params.get("expires"))
        expires = next(e for e in (expires, default, self.default_expires) if e is not None)
        if 0 < expires < self.min_expires:
            raise _Refused(Reply(423, (("Min-Expires", str(self.min_expires)),)))
        contact = without_expires(contact)
        return _Change(contact_key(contact), contact, min(expires, self.max_expires))

    def _wildcard(
        self, existing: dict[str, Binding], request: Request, values: list[str]
    ) -> list[_Change]:
        """``Contact: *`` with ``Expires: 0`` removes every binding (§10.3 step 6)."""
        if len(values) != 1 or _delta(request.headers.get("Expires")) != 0:
            raise _Refused(Reply(400, reason="Contact * needs Expires: 0 and no other Contact"))
        for binding in existing.values():
            _check_order(binding, request)
        return [_Change(key, b.contact, 0) for key, b in existing.items()]

    def _apply(
        self,
        aor: str,
        change: _Change,
        request: Request,
        source: Address,
        transport: str,
        path: tuple[str, ...],
        now: float,
    ) -> None:
        contacts = self._by_aor.setdefault(aor, {})
        if change.expires == 0:
            contacts.pop(change.key, None)
        else:
            expires_at = now + change.expires
            contacts[change.key] = Binding(
                aor,
                change.contact,
                expires_at,
                request.call_id,
                request.cseq.seq,
                source,
                transport,
                path,
            )
        if not contacts:
            del self._by_aor[aor]


def _listed(binding: Binding, now: float) -> str:
    params = {**binding.contact.params, "expires": str(binding.remaining(now))}
    return str(NameAddr(binding.contact.display_name, binding.contact.uri, params))


def _check_order(binding: Binding | None, request: Request) -> None:
    """Same Call-ID with a CSeq not above the stored one: out of order, fail (§10.3)."""
    if binding and binding.call_id == request.call_id and request.cseq.seq <= binding.cseq:
        raise _Refused(Reply(500, reason="Out Of Order REGISTER"))


def address_of_record(request: Request) -> str | None:
    """The To user: endpoints register as ``sip:username@host``."""
    uri = request.to_addr.uri
    return uri.user if isinstance(uri, SipUri) and uri.scheme != "tel" and uri.user else None


def endpoint_ha1(store: Store) -> Ha1Finder:
    """HA1 of the endpoint with that username, from the store."""

    async def find(username: str) -> str | None:
        endpoint = await store.find_endpoint(username)
        return endpoint.ha1 if endpoint is not None else None

    return find


def _username(authorization: str | None) -> str | None:
    if not authorization:
        return None
    try:
        return Credentials.parse(authorization).username
    except SipParseError:
        return None


class Registrar:
    """REGISTER handling for ``Router``; ``lookup(username)`` for calls to endpoints."""

    def __init__(
        self,
        find_ha1: Ha1Finder,
        *,
        auth: DigestServer | None = None,
        bindings: Bindings | None = None,
        sweep_interval: float = SWEEP_INTERVAL,
        failures: AuthFailures | None = None,
    ) -> None:
        self.find_ha1 = find_ha1
        self.auth = auth or DigestServer(REALM)
        self.failures = failures or AuthFailures(Bans(), limit=0)
        self.bindings = bindings or Bindings()
        # told the address-of-record of every REGISTER that changed bindings (cluster)
        self.on_change: Callable[[str], None] | None = None
        self.sweep_interval = sweep_interval
        self._lock = asyncio.Lock()  # REGISTERs are processed in arrival order (§10.3)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def on_register(self, event: RequestReceived, sip: SipTransport) -> None:
        """Answer a REGISTER (called synchronously by the router)."""
        task = asyncio.get_running_loop().create_task(self._answer(event, sip))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, event: RequestReceived, sip: SipTransport) -> None:
        try:
            reply = await self.process(event.request, event.source, event.transport, _now())
        except Exception:  # the boundary: a store failure must still get an answer
            log.exception("REGISTER from %s:%s failed", *event.source)
            reply = Reply(500)
        headers = [*reply.headers, ("Date", email.utils.formatdate(usegmt=True))]
        txn = event.transaction
        response = sip.endpoint.response(txn, reply.status, reply.reason, headers=headers)
        sip.send_response(txn, response)

    async def process(self, request: Request, source: Address, transport: str, now: float) -> Reply:
        """Authenticate and apply one REGISTER; the reply to send."""
        async with self._lock:
            if self.failures.banned(source[0]):
                return Reply(403)
            authorization = request.headers.get("Authorization")
            username = _username(authorization)
            ha1 = await self.find_ha1(username) if username else None
            result = self.auth.verify(
                "REGISTER",
                authorization,
                lambda user, algorithm: ha1 if user == username and algorithm == "MD5" else None,
                now,
                uri=request.uri,
            )
            if result.outcome is not Outcome.OK:
                return self._refusal(result.outcome, result.reason, username, source, now)
            aor = address_of_record(request)
            if aor is None or aor != result.username:
                log.warning("REGISTER from %s:%s: %r may not register %r", *source, username, aor)
                return Reply(403, reason="Forbidden (To user is not the digest username)")
            reply = self.bindings.register(aor, request, source, transport, now)
            changed = bool(request.headers.get_all("Contact"))  # not a query
            if reply.status == 200 and changed and self.on_change is not None:
                self.on_change(aor)
            return reply

    def _refusal(
        self, outcome: Outcome, why: str, username: str | None, source: Address, now: float
    ) -> Reply:
        if outcome is Outcome.FORBIDDEN:
            self.failures.failed(source[0], username, f"REGISTER: {why}")
            return Reply(403)
        if why != "no credentials":
            log.info("REGISTER from %s:%s: challenging again: %s", *source, why)
        return self._challenge(now, stale=outcome is Outcome.STALE)

    def _challenge(self, now: float, *, stale: bool) -> Reply:
        challenges = self.auth.challenges(now, stale=stale)
        return Reply(401, tuple(("WWW-Authenticate", str(c)) for c in challenges))

    def any_registered_from(self, source_ip: str) -> bool:
        """Some endpoint has a current registration sent from ``source_ip``."""
        return self.bindings.registered_from(source_ip, _now())

    def lookup(self, username: str) -> list[Binding]:
        """Where endpoint ``username`` can be reached now, the latest registration first."""
        return self.bindings.lookup(username, _now())

    def registered_from(self, username: str, ip: str) -> bool:
        """Endpoint ``username`` has a current registration sent from ``ip``."""
        return any(binding.source[0] == ip for binding in self.lookup(username))

    def start(self) -> None:
        """Start the periodic sweep of expired bindings."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            dropped = self.bindings.sweep(_now())
            if dropped:
                log.debug("dropped %d expired registration(s)", dropped)

    async def close(self) -> None:
        tasks: Iterable[asyncio.Task[Any]] = [*self._tasks, *filter(None, [self._sweeper])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _now() -> float:
    return asyncio.get_running_loop().time()
