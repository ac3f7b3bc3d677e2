"""Where a SIP host name sends us: RFC 3263 lookups with a TTL cache, off the hot path.

``SipTransport`` asks ``cached()`` first (a dict look-up, no await); only a miss
awaits ``targets()``. IP literals never get here (``is_ip_literal``).

For a host with no port (a trunk whose port is 0), ``targets`` follows RFC 3263
§4: NAPTR records whose service is ``SIP+D2U``/``SIP+D2T`` for the transport in
use, else the SRV record ``_sip._udp``/``_sip._tcp`` of the host, else the host's
addresses on 5060; SRV targets are taken by priority, then by higher weight
(a stable order, so a CANCEL finds the INVITE's target). With a port, only the
A/AAAA records. Every answer is cached for its TTL; a name that does not resolve
(NXDOMAIN, no records, no server answering) is cached for ``negative_ttl``;
both caches are bounded (oldest entry out first).

Names in the hosts file (``/etc/hosts``) answer first, as the OS resolver would;
``.invalid`` (RFC 6761) never leaves the process.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from callplane.errors import SipError

logger = logging.getLogger("callplane.sip")

DEFAULT_PORT = 5060
HOSTS_FILE = Path("/etc/hosts")
NAPTR_SERVICES = {"UDP": "SIP+D2U", "TCP": "SIP+D2T"}
SRV_PREFIXES = {"UDP": "_sip._udp.", "TCP": "_sip._tcp."}
HOSTS_TTL = 300.0


class ResolutionError(SipError):
    """A SIP host name has no usable address."""


@dataclass(frozen=True, slots=True)
class Target:
    address: str  # an IP literal
    port: int


def is_ip_literal(host: str) -> bool:
    """True for "192.0.2.1" and "2001:db8::1" (no brackets); cheaper than ipaddress."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def parse_nameservers(spec: str) -> list[tuple[str, int]]:
    """``"127.0.0.1:5353, 192.0.2.53"`` -> [(address, port)]; "[::1]:53" for IPv6."""
    servers = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item.startswith("["):
            address, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        elif item.count(":") == 1:
            address, _, port = item.partition(":")
        else:
            address, port = item, ""
        if not is_ip_literal(address) or (port and not port.isdigit()):
            raise ValueError(f"DNS server {item!r}: expected an IP address with an optional :port")
        servers.append((address, int(port or 53)))
    return servers


def read_hosts(path: Path) -> dict[str, list[str]]:
    """A hosts file as {lower-case name: [addresses]}; a missing file is empty."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.partition("#")[0].split()
        if len(fields) < 2 or not is_ip_literal(fields[0]):
            continue
        for name in fields[1:]:
            table.setdefault(name.lower().rstrip("."), []).append(fields[0])
    return table


class _Cache:
    """Answers by key until their expiry, at most ``size`` of them."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[object, tuple[float, list[Target]]] = OrderedDict()

    def get(self, key: object) -> list[Target] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: object, value: list[Target], ttl: float) -> None:
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Resolver:
    """RFC 3263 targets of SIP hosts; see the module docstring."""

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]] = (),
        *,
        hosts_file: Path | None = HOSTS_FILE,
        timeout: float = 3.0,
        negative_ttl: float = 30.0,
        max_ttl: float = 3600.0,
        cache_size: int = 4096,
        negative_cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nameservers = list(nameservers)
        self.hosts = read_hosts(hosts_file) if hosts_file is not None else {}
        self.timeout = timeout
        self.negative_ttl = negative_ttl
        self.max_ttl = max_ttl
        self._positive = _Cache(cache_size, clock)
        self._negative = _Cache(negative_cache_size, clock)
        self._pending: dict[tuple[str, int, str], asyncio.Future[list[Target]]] = {}
        self._dns: dns.asyncresolver.Resolver | None = None

    def cached(self, host: str, port: int, transport: str = "UDP") -> list[Target] | None:
        """The targets known now (no await): a list, [] for a cached failure, or None."""
        key = (host.lower(), port, transport)
        found = self._positive.get(key)
        return found if found is not None else self._negative.get(key)

    async def targets(self, host: str, port: int, transport: str = "UDP") -> list[Target]:
        """Where to send for ``host``; port 0 = none given (NAPTR/SRV). Raises
        ResolutionError when the name has no address; concurrent asks share one lookup."""
        key = (host.lower(), port, transport.upper())
        known = self.cached(*key)
        if known is None:
            pending = self._pending.get(key)
            if pending is None:
                pending = asyncio.ensure_future(self._lookup(*key))
                self._pending[key] = pending
                pending.add_done_callback(lambda _: self._pending.pop(key, None))
            known = await asyncio.shield(pending)
        if not known:
            raise ResolutionError(f"{host} does not resolve")
        return known

    async def _lookup(self, host: str, port: int, transport: str) -> list[Target]:
        key = (host, port, transport)
        try:
            found, ttl = await self._resolve(host.rstrip("."), port, transport)
        except (dns.exception.DNSException, ResolutionError, OSError) as exc:
            logger.info("DNS: %s (%s) does not resolve: %s", host, transport, exc)
            found, ttl = [], 0.0
        if found:
            self._positive.put(key, found, min(ttl, self.max_ttl))
        else:
            self._negative.put(key, [], self.negative_ttl)
        return found

    async def _resolve(self, host: str, port: int, transport: str) -> tuple[list[Target], float]:
        if is_ip_literal(host):
            return [Target(host, port or DEFAULT_PORT)], self.max_ttl
        if host.endswith(".invalid") or host == "invalid":
            raise ResolutionError("the .invalid domain never resolves (RFC 6761)")
        if port or host in self.hosts:
            addresses, ttl = await self._addresses(host)
            return [Target(a, port or DEFAULT_PORT) for a in addresses], ttl
        srv_names, ttl = await self._naptr(host, transport)
        for srv_name in srv_names or [SRV_PREFIXES[transport] + host]:
            found, srv_ttl = await self._srv(srv_name)
            if found:
                return found, min(ttl, srv_ttl)
        addresses, a_ttl = await self._addresses(host)
        return [Target(a, DEFAULT_PORT) for a in addresses], a_ttl

    async def _naptr(self, host: str, transport: str) -> tuple[list[str], float]:
        """SRV names of the NAPTR records for ``transport``, in order/preference order."""
        answer = await self._query(host, "NAPTR")
        if answer is None:
            return [], self.max_ttl
        wanted = NAPTR_SERVICES[transport].encode()
        records = sorted(
            (r for r in answer if r.service.upper() == wanted and r.flags.upper() == b"S"),
            key=lambda r: (r.order, r.preference),
        )
        return [r.replacement.to_text().rstrip(".") for r in records], _ttl(answer)

    async def _srv(self, name: str) -> tuple[list[Target], float]:
        answer = await self._query(name, "SRV")
        if answer is None:
            return [], self.max_ttl
        ttl = _ttl(answer)
        found: list[Target] = []
        for record in sorted(answer, key=lambda r: (r.priority, -r.weight)):
            target = record.target.to_text().rstrip(".")
            if target == "":  # "." : the service is decidedly not available here
                continue
            try:
                addresses, a_ttl = await self._addresses(target)
            except ResolutionError:
                continue
            ttl = min(ttl, a_ttl)
            found.extend(Target(a, record.port) for a in addresses)
        return found, ttl

    async def _addresses(self, host: str) -> tuple[list[str], float]:
        """A then AAAA records (the hosts file first)."""
        listed = self.hosts.get(host.lower())
        if listed:
            return listed, HOSTS_TTL
        addresses: list[str] = []
        ttl = self.max_ttl
        for rdtype in ("A", "AAAA"):
            answer = await self._query(host, rdtype)
            if answer is not None:
                addresses.extend(r.address for r in answer)
                ttl = min(ttl, _ttl(answer))
        if not addresses:
            raise ResolutionError(f"{host} has no A or AAAA record")
        return addresses, ttl

    async def _query(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        """The answer, or None when the name or the record type does not exist."""
        try:
            return await self._resolver().resolve(name, rdtype, search=False, lifetime=self.timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns is None:
            if self.nameservers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(address, port)
                    for address, port in self.nameservers
                ]
            else:
                try:
                    resolver = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration as exc:
                    raise ResolutionError(f"no DNS server configured: {exc}") from exc
            resolver.cache = None  # ours caches whole RFC 3263 answers
            self._dns = resolver
        return self._dns


def _ttl(answer: Iterable[object]) -> float:
    rrset = getattr(answer, "rrset", None)
    return float(rrset.ttl) if rrset is not None else 0.0
