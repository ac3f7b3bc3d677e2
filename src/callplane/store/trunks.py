"""Trunks in the store: checks on what is written, rows, and the in-memory trunk table.

The table is rebuilt with the routing table on every configuration write, so
the call router and Dial read trunks without SQL.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any

from sqlalchemy.engine import Row

from callplane.errors import ValidationError
from callplane.store import tables as t
from callplane.store.models import Account, Trunk
from callplane.store.secrets import digest_ha1
from callplane.store.validation import check_name, check_password, check_username

TRANSPORTS = frozenset({"udp", "tcp"})
MAX_STRIP = 15
# Fields a write may set; ``password``/``inbound_password`` are write-only inputs.
WRITABLE = frozenset(
    {
        "name",
        "host",
        "port",
        "transport",
        "username",
        "password",
        "prefixes",
        "strip_digits",
        "add_prefix",
        "caller_id",
        "inbound_acl",
        "inbound_username",
        "inbound_password",
        "priority",
        "enabled",
    }
)
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DIGITS = re.compile(r"\d{1,15}")
_CALLER_ID = re.compile(r"\+?[A-Za-z0-9_.\-]{1,63}")
_NUMBER_NOISE = re.compile(r"[+\s\-]")


def new_trunk_id() -> str:
    """``TR`` + 18 upper-case letters/digits."""
    return "TR" + secrets.token_hex(9).upper()


def apply_changes(trunk: Trunk, changes: Mapping[str, Any]) -> Trunk:
    """``trunk`` with ``changes`` applied and checked; raises on the first bad field."""
    for name in changes:
        if name not in WRITABLE:
            raise ValidationError(name, "unknown field")
    values = {k: v for k, v in changes.items() if k != "inbound_password"}
    updated = replace(trunk, **values)
    if "inbound_password" in changes or "inbound_username" in changes:
        updated = _with_inbound_digest(updated, changes)
    return validate_trunk(updated)


def _with_inbound_digest(trunk: Trunk, changes: Mapping[str, Any]) -> Trunk:
    """Inbound digest credentials are set (or cleared) as a username/password pair."""
    username = trunk.inbound_username
    password = changes.get("inbound_password")
    if not username:
        return replace(trunk, inbound_username="", inbound_ha1="")
    check_username(username)
    if not password:
        raise ValidationError("inbound_password", "required with inbound_username")
    check_password(password)
    return replace(trunk, inbound_ha1=digest_ha1(username, password))


def validate_trunk(trunk: Trunk) -> Trunk:
    """The trunk with normalised values; raises ValidationError naming the bad field."""
    if not (1 <= trunk.port <= 65535 or (trunk.port == 0 and not _is_ip(trunk.host))):
        raise ValidationError("port", "must be 1-65535, or 0 (SRV look-up) with a host name")
    if trunk.transport.lower() not in TRANSPORTS:
        raise ValidationError("transport", "must be udp or tcp")
    if not 0 <= trunk.strip_digits <= MAX_STRIP:
        raise ValidationError("strip_digits", f"must be between 0 and {MAX_STRIP}")
    if trunk.add_prefix and not _DIGITS.fullmatch(trunk.add_prefix):
        raise ValidationError("add_prefix", "must be 1-15 digits")
    if trunk.caller_id and not _CALLER_ID.fullmatch(trunk.caller_id):
        raise ValidationError("caller_id", "must be a number or SIP user part")
    if bool(trunk.username) != bool(trunk.password):
        field = "password" if trunk.username else "username"
        raise ValidationError(field, "username and password go together")
    return replace(
        trunk,
        name=check_name("name", trunk.name),
        host=check_host(trunk.host),
        transport=trunk.transport.lower(),
        prefixes=check_prefixes(trunk.prefixes),
        inbound_acl=check_acl(trunk.inbound_acl),
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_host(host: str) -> str:
    """An IP address or a DNS name."""
    value = host.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not value or len(value) > 253 or not _HOST.fullmatch(value):
        raise ValidationError("host", f"must be an IP address or host name, not {host!r}")
    return value.lower()


def check_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for prefix in prefixes:
        digits = _NUMBER_NOISE.sub("", str(prefix))
        if not _DIGITS.fullmatch(digits):
            raise ValidationError("prefixes", f"{prefix!r} is not 1-15 digits")
        found.append(digits)
    return tuple(dict.fromkeys(found))


def check_acl(entries: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in entries:
        try:
            found.append(str(ipaddress.ip_network(str(entry).strip(), strict=False)))
        except ValueError:
            raise ValidationError(
                "inbound_acl", f"{entry!r} is not an IP address or CIDR"
            ) from None
    return tuple(dict.fromkeys(found))


def to_row(trunk: Trunk) -> dict[str, Any]:
    """Column values; text longer than its column is a ValidationError on every backend."""
    row = {f.name: getattr(trunk, f.name) for f in fields(trunk)}
    for name, value in row.items():
        limit = getattr(t.trunks.c[name].type, "length", None)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise ValidationError(name, f"at most {limit} characters")
    row["prefixes"] = list(trunk.prefixes)
    row["inbound_acl"] = list(trunk.inbound_acl)
    return row


def from_row(row: Row[Any]) -> Trunk:
    values = row._asdict()
    values["prefixes"] = tuple(values["prefixes"] or ())
    values["inbound_acl"] = tuple(values["inbound_acl"] or ())
    return Trunk(**values)


class TrunkTable:
    """Enabled trunks per account, best first (priority, then age), read without SQL."""

    def __init__(self) -> None:
        self._by_account: dict[str, tuple[Trunk, ...]] = {}
        self._acl: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def replace(self, trunks: Iterable[Trunk]) -> None:
        grouped: dict[str, list[Trunk]] = defaultdict(list)
        for trunk in trunks:
            if trunk.enabled:
                grouped[trunk.auth_id].append(trunk)
        self._by_account = {
            auth_id: tuple(sorted(found, key=_order)) for auth_id, found in grouped.items()
        }
        self._acl = tuple(
            ipaddress.ip_network(entry, strict=False)
            for found in grouped.values()
            for trunk in found
            for entry in trunk.inbound_acl
        )

    def in_any_acl(self, source_ip: str) -> bool:
        """Whether ``source_ip`` is in the inbound ACL of any enabled trunk (of any account)."""
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(address in network for network in self._acl)

    def of(self, account: Account) -> tuple[Trunk, ...]:
        """The account's trunks, then its parent's (a main account's trunks serve its
        sub-accounts)."""
        own = self._by_account.get(account.auth_id, ())
        if account.parent_auth_id is None:
            return own
        return own + self._by_account.get(account.parent_auth_id, ())


def _order(trunk: Trunk) -> tuple[int, str, str]:
    created = trunk.created.isoformat() if trunk.created else ""
    return trunk.priority, created, trunk.trunk_id
