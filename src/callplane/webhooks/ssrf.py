"""The outbound request policy: which addresses a customer URL may reach.

Every URL Callplane fetches for an account (webhooks, ``<Play>`` audio, Dial
sounds, the flow HTTP Request node) is resolved here and each address checked
before anything connects; the connection then goes to the checked address, so
a DNS answer that changes between check and connect (rebinding) cannot move it.
Every connection is checked, a redirect hop's too; a pooled keep-alive connection
is reused only by requests of the reach it was checked for.

* Link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
  fd00:ec2::254) are refused for everyone.
* Callplane's own HTTP listener (its port on any address of this machine) is
  refused for everyone.
* Loopback, private and other non-global ranges (RFC 1918, 127/8, ::1,
  fc00::/7, 100.64/10, 0/8, multicast, reserved; also inside IPv4-mapped, 6to4
  or NAT64 addresses) are reachable only with :attr:`Reach.PRIVATE`: the main
  account's, and a sub-account's the operator allowed (``private_networks``).
  Everything else is public.

A name with any refused address is refused as a whole. A refusal says only
:data:`REFUSED`: nothing about the target (not whether a port is open).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from enum import StrEnum

from callplane.store.models import Account

logger = logging.getLogger("callplane.webhooks")

REFUSED = "URL refused by the outbound request policy"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(net) for net in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 addresses that lead to IPv4 ones


class Reach(StrEnum):
    """Where an account's URLs may go."""

    PUBLIC = "public"  # global addresses only
    PRIVATE = "private"  # also loopback and private networks


def reach_of(account: Account) -> Reach:
    """The main account reaches private networks; a sub-account when the operator allowed it."""
    if account.parent_auth_id is None or account.private_networks:
        return Reach.PRIVATE
    return Reach.PUBLIC


class RefusedURL(Exception):
    """The URL's host resolves to an address the policy refuses."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class OutboundPolicy:
    """Checks addresses for a :class:`Reach`; knows the ports Callplane itself listens on."""

    def __init__(self, own_ports: Iterable[int] = ()) -> None:
        self.own_ports = frozenset(own_ports)

    def allows(self, address: IPAddress, port: int, reach: Reach) -> bool:
        embedded = _embedded_ipv4(address)
        if embedded is not None and not self.allows(embedded, port, reach):
            return False
        address = _unmapped(address)
        if any(address in net for net in _ALWAYS_REFUSED):
            return False
        if port in self.own_ports and _is_local(address):
            return False
        return reach is Reach.PRIVATE or (address.is_global and not address.is_multicast)

    async def resolve(self, host: str, port: int, reach: Reach) -> list[str]:
        """The addresses of ``host`` to connect to, in resolver order, all allowed.

        Raises :class:`RefusedURL` when any is refused, ``OSError`` when ``host``
        does not resolve.
        """
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
            found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not found or not all(self.allows(address, port, reach) for address in found):
            # The operator's log says what was refused; the account only learns REFUSED.
            logger.info(
                "outbound request refused",
                extra={"host": host, "port": port, "addresses": [str(a) for a in found]},
            )
            raise RefusedURL()
        return [str(address) for address in found]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 (64:ff9b::/96) address leads to."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _is_local(address: IPAddress) -> bool:
    """Whether ``address`` reaches this machine: it can be bound to (0.0.0.0 and :: too)."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True
