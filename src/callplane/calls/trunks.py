"""Trunk routing, both ways, without I/O (docs/trunks.md).

Outbound: ``choose_trunk`` picks the trunk a dialled number leaves through (the
longest matching prefix; a trunk without prefixes matches every number with
length 0; ties go to the earlier trunk of the table: the account's own before
its parent's, then by priority), ``number_uri`` rewrites the number for it.

Inbound: ``InboundTrunks.check`` decides whether an INVITE for one of an
account's numbers is taken, and from which trunk:

1. the source address is in a trunk's ``inbound_acl``: from that trunk;
2. it carries Proxy-Authorization, or the account has a trunk with inbound
   digest credentials: valid credentials of such a trunk -> from that trunk,
   none or a stale nonce -> 407 with a fresh challenge, anything else -> 403;
3. otherwise it is taken from no trunk, as any caller may call a number,
   unless ``trunk_only`` (``callplane serve --trunk-only``): 403.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from callplane.sip.auth import NONCE_TTL, DigestServer, Outcome
from callplane.sip.message import Request
from callplane.store.models import Trunk
from callplane.store.secrets import REALM

_NUMBER_NOISE = str.maketrans("", "", "+-.() ")


def dialled_digits(number: str) -> str:
    """A ``<Number>`` without "+", spaces or visual separators."""
    return number.strip().translate(_NUMBER_NOISE)


def matched_length(trunk: Trunk, digits: str) -> int | None:
    """How many leading digits the trunk's best prefix matches; None: not this trunk."""
    if not trunk.prefixes:
        return 0
    lengths = [len(prefix) for prefix in trunk.prefixes if digits.startswith(prefix)]
    return max(lengths, default=None)


def choose_trunk(trunks: Sequence[Trunk], number: str) -> Trunk | None:
    """The trunk for ``number``: longest prefix first, then the table's order."""
    digits = dialled_digits(number)
    best: Trunk | None = None
    best_length = -1
    for trunk in trunks:
        length = matched_length(trunk, digits)
        if length is not None and length > best_length:
            best, best_length = trunk, length
    return best


def rewrite_number(trunk: Trunk, number: str) -> str:
    """Strip ``strip_digits`` leading digits, then put ``add_prefix`` in front."""
    return trunk.add_prefix + dialled_digits(number)[trunk.strip_digits :]


def number_uri(trunk: Trunk, number: str) -> str:
    """The Request-URI of a call to ``number`` through ``trunk``."""
    host = f"[{trunk.host}]" if ":" in trunk.host else trunk.host
    port = f":{trunk.port}" if trunk.port else ""  # none: the gateway's SRV records say
    params = ";transport=tcp" if trunk.transport == "tcp" else ""
    return f"sip:{rewrite_number(trunk, number)}@{host}{port}{params}"


def acl_trunk(trunks: Sequence[Trunk], source_ip: str) -> Trunk | None:
    """The first trunk whose inbound ACL holds ``source_ip``."""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return None
    for trunk in trunks:
        if any(address in ipaddress.ip_network(entry) for entry in trunk.inbound_acl):
            return trunk
    return None


def digest_trunk(trunks: Sequence[Trunk], username: str) -> Trunk | None:
    for trunk in trunks:
        if trunk.inbound_ha1 and trunk.inbound_username == username:
            return trunk
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Take the call (``status`` 0), from ``trunk`` if any; or answer ``status``."""

    trunk: Trunk | None = None
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    why: str = ""
    failed_auth: bool = False  # a wrong digest (counted against the source)
    username: str | None = None  # the digest username it claimed


class InboundTrunks:
    """Which trunk an INVITE comes from; see the module docstring."""

    def __init__(
        self,
        *,
        trunk_only: bool = False,
        secret: bytes | None = None,
        nonce_ttl: float = NONCE_TTL,
    ) -> None:
        self.trunk_only = trunk_only
        self.auth = DigestServer(REALM, secret=secret, nonce_ttl=nonce_ttl)

    def check(
        self, trunks: Sequence[Trunk], request: Request, source_ip: str, now: float
    ) -> Verdict:
        trunk = acl_trunk(trunks, source_ip)
        if trunk is not None:
            return Verdict(trunk)
        authorization = request.headers.get("Proxy-Authorization")
        if authorization or any(t.inbound_ha1 for t in trunks):
            return self._digest(trunks, request, authorization, now)
        if self.trunk_only:
            return Verdict(status=403, why=f"{source_ip} is not a trunk (--trunk-only)")
        return Verdict()

    def _digest(
        self, trunks: Sequence[Trunk], request: Request, authorization: str | None, now: float
    ) -> Verdict:
        def ha1(username: str, algorithm: str) -> str | None:
            trunk = digest_trunk(trunks, username)
            return trunk.inbound_ha1 if trunk and algorithm == "MD5" else None

        result = self.auth.verify("INVITE", authorization, ha1, now, uri=request.uri)
        if result.ok and result.username is not None:
            return Verdict(digest_trunk(trunks, result.username))
        if result.outcome is Outcome.FORBIDDEN:
            why = f"trunk digest refused: {result.reason}"
            return Verdict(status=403, why=why, failed_auth=True, username=result.username)
        challenges = self.auth.challenges(now, stale=result.outcome is Outcome.STALE)
        headers = tuple(("Proxy-Authenticate", str(c)) for c in challenges)
        return Verdict(status=407, headers=headers, why=result.reason)
