"""Calls placed by SIP endpoints: authenticate the INVITE, then run the endpoint's application.

An INVITE is endpoint E's call when all of these hold (docs/registrar.md):

- its From user is E's username (usernames are unique across accounts);
- it comes from an IP address E is registered from: a caller anywhere else is any
  caller, so whether E exists never changes the answer an outsider gets;
- it does not dial a number of another account: E's name cannot capture calls
  whose caller id happens to be E's username (a tenant boundary).

Such a call runs E's application whatever it dials, even one of E's own account's
numbers, as on Plivo (the application decides where an endpoint's calls go). Other
INVITEs are routed by the dialed number (None here). The INVITE is checked as the
registrar checks a REGISTER, with the registrar's digest server (same realm, HA1
and nonces), but by proxy authentication as for trunks (RFC 3261 §22.3):

    no usable Proxy-Authorization       -> 407 with a fresh Proxy-Authenticate
    stale or replayed nonce, right
    password                            -> 407 with stale=true
    wrong password, or digest username
    other than the From user            -> 403, a failed authentication
    endpoint's account disabled         -> 403
    authenticated                       -> EndpointCall

The application is the endpoint's ``app_id``, else its account's application marked
``default_endpoint_app``, else none (the router refuses the call with 480).
"""

from __future__ import annotations

from dataclasses import dataclass

from callplane.calls.registrar import Registrar
from callplane.sip.auth import Outcome
from callplane.sip.message import Request
from callplane.sip.uri import SipUri
from callplane.store.models import Endpoint, Number, Route
from callplane.store.store import Store

_NUMBER_NOISE = str.maketrans("", "", "+-.() ")


@dataclass(frozen=True, slots=True)
class EndpointCall:
    """An authenticated endpoint's INVITE: what to run, and the parties as Plivo names them."""

    endpoint: Endpoint
    route: Route  # the endpoint's account and application; ``number`` is the callee
    caller: str  # From: sip:username@host
    callee: str  # To: the Request-URI user

    @property
    def missing_app_note(self) -> str:
        return (
            f"endpoint {self.endpoint.username} has no application and its account no "
            "default endpoint application: attach one with `callplane endpoints update "
            f"{self.endpoint.endpoint_id} --app APP_ID`"
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """An INVITE from an endpoint not taken: the status (403, 407) and why, for the log;
    ``failed_auth``: a wrong password (counted against the source)."""

    status: int
    why: str
    headers: tuple[tuple[str, str], ...] = ()
    failed_auth: bool = False


def from_user(request: Request) -> str | None:
    """The From URI's user: an endpoint's username if the caller is one."""
    uri = request.from_addr.uri
    return uri.user if isinstance(uri, SipUri) and uri.scheme != "tel" and uri.user else None


def dialed_user(request: Request) -> str:
    """The Request-URI user; a number loses "+" and visual separators."""
    uri = request.sip_uri
    user = uri.user if isinstance(uri, SipUri) and uri.user else ""
    digits = user.translate(_NUMBER_NOISE)
    return digits if digits.isdigit() and digits.isascii() else user


class EndpointCalls:
    """See the module docstring; ``host`` names endpoints in ``sip:username@host``."""

    def __init__(self, store: Store, registrar: Registrar, host: str) -> None:
        self.store = store
        self.registrar = registrar
        self.auth = registrar.auth
        self.host = host

    def check(
        self, request: Request, source_ip: str, dialed: Route | None, now: float
    ) -> EndpointCall | Refusal | None:
        """None when the INVITE is no endpoint's call (it is routed by number);
        ``dialed``: the route of the number it dials, if that is one of ours."""
        username = from_user(request)
        found = self.store.endpoint(username) if username else None
        if found is None:
            return None
        endpoint, account, app = found
        if dialed is not None and dialed.account.auth_id != account.auth_id:
            return None
        if not self.registrar.registered_from(endpoint.username, source_ip):
            return None
        refusal = self._authenticate(endpoint, request, now)
        if refusal is not None:
            return refusal
        if not account.enabled:
            return Refusal(403, f"endpoint {endpoint.username}'s account is disabled")
        callee = dialed_user(request)
        route = Route(Number(callee, account.auth_id), account, app)
        return EndpointCall(endpoint, route, f"sip:{endpoint.username}@{self.host}", callee)

    def _authenticate(self, endpoint: Endpoint, request: Request, now: float) -> Refusal | None:
        def ha1(username: str, algorithm: str) -> str | None:
            return endpoint.ha1 if username == endpoint.username and algorithm == "MD5" else None

        authorization = request.headers.get("Proxy-Authorization")
        result = self.auth.verify("INVITE", authorization, ha1, now, uri=request.uri)
        if result.ok:
            return None
        who = f"endpoint {endpoint.username}"
        if result.outcome is Outcome.FORBIDDEN:
            if result.username != endpoint.username:
                why = f"{who}: digest username {result.username!r} is not it"
                return Refusal(403, why, failed_auth=True)
            return Refusal(403, f"{who}: {result.reason}", failed_auth=True)
        challenges = self.auth.challenges(now, stale=result.outcome is Outcome.STALE)
        headers = tuple(("Proxy-Authenticate", str(c)) for c in challenges)
        return Refusal(407, f"{who}: {result.reason}", headers)
