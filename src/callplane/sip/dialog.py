"""SIP dialogs (RFC 3261 §12): state built from an INVITE, in-dialog requests, matching.

The UAS side is ``Dialog.from_invite(invite, local_tag)``; the UAC side is
``Dialog.from_response(invite, response)``. ``create_request("BYE")`` builds an
in-dialog request (§12.2.1.1) without a Via: ``SipEndpoint.send_request`` adds
it. ``next_hop()`` says where to send it (first Route or the remote target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callplane.errors import SipError
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response
from callplane.sip.uri import NameAddr, SipUri, format_params, parse_name_addr


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str | None
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 0
    remote_cseq: int | None = None
    secure: bool = False

    @property
    def id(self) -> tuple[str, str, str | None]:
        return self.call_id, self.local_tag, self.remote_tag

    @classmethod
    def from_invite(cls, invite: Request, local_tag: str) -> Dialog:
        """UAS dialog (§12.1.1): route set is Record-Route in order."""
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_addr.tag,
            local_uri=_bare(invite.to_addr),
            remote_uri=_bare(invite.from_addr),
            remote_target=_target(invite.contacts),
            route_set=invite.headers.get_all("Record-Route"),
            local_cseq=0,
            remote_cseq=invite.cseq.seq,
            secure=invite.uri.lower().startswith("sips:"),
        )

    @classmethod
    def from_response(cls, invite: Request, response: Response) -> Dialog:
        """UAC dialog (§12.1.2): route set is Record-Route reversed."""
        local_tag = invite.from_addr.tag
        if local_tag is None:
            raise SipError("INVITE has no From tag")
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=response.to_addr.tag,
            local_uri=_bare(invite.from_addr),
            remote_uri=_bare(response.to_addr),
            remote_target=_target(response.contacts),
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            local_cseq=invite.cseq.seq,
            remote_cseq=None,
            secure=invite.uri.lower().startswith("sips:"),
        )

    def matches(self, request: Request) -> bool:
        """True if an incoming request belongs to this dialog (§12.2.2)."""
        try:
            return (
                request.call_id == self.call_id
                and request.to_addr.tag == self.local_tag
                and request.from_addr.tag == self.remote_tag
            )
        except SipError:
            return False

    def accept_cseq(self, request: Request) -> bool:
        """Check and record the remote CSeq (§12.2.2): False -> answer 500."""
        seq = request.cseq.seq
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and seq <= self.remote_cseq:
            return False
        self.remote_cseq = seq
        return True

    def create_request(
        self, method: str, *, headers: tuple[tuple[str, str], ...] = (), body: bytes = b""
    ) -> Request:
        """An in-dialog request (§12.2.1.1); ACK reuses the INVITE's CSeq number."""
        if method != "ACK":
            self.local_cseq += 1
        uri, routes = self._request_uri_and_routes()
        items = [(name, value) for name, value in _route_lines(routes)]
        items += [
            ("From", f"<{self.local_uri}>;tag={self.local_tag}"),
            ("To", f"<{self.remote_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.local_cseq} {method}"),
            ("Max-Forwards", "70"),
            *headers,
        ]
        return Request(method, uri, Headers(items), body)

    def _request_uri_and_routes(self) -> tuple[str, list[str]]:
        if not self.route_set:
            return self.remote_target, []
        first = parse_name_addr(self.route_set[0])
        if isinstance(first.uri, SipUri) and "lr" in first.uri.params:
            return self.remote_target, list(self.route_set)
        strict_uri = first.uri if isinstance(first.uri, str) else _without_params(first.uri)
        return str(strict_uri), [*self.route_set[1:], f"<{self.remote_target}>"]

    def next_hop(self) -> tuple[str, int | None, str]:
        """(host, port, transport) of the first Route, else of the remote target."""
        target = parse_name_addr(self.route_set[0]).uri if self.route_set else self.remote_target
        uri = target if isinstance(target, SipUri) else SipUri.parse(target)
        transport = (uri.params.get("transport") or "udp").upper()
        host = uri.params.get("maddr") or uri.host
        return host, uri.port, transport


def _bare(addr: NameAddr) -> str:
    return str(addr.uri)


def _target(contacts: list[NameAddr]) -> str:
    if not contacts:
        raise SipError("no Contact to use as the remote target")
    return str(contacts[0].uri)


def _route_lines(routes: list[str]) -> list[tuple[str, str]]:
    return [("Route", route) for route in routes]


def _without_params(uri: SipUri) -> str:
    """A strict-routing Request-URI drops method and header parts (§12.2.1.1)."""
    params = {k: v for k, v in uri.params.items() if k != "method"}
    base = SipUri(uri.scheme, uri.host, uri.user, uri.password, uri.port)
    return str(base) + format_params(params)
