"""SIP URIs (RFC 3261 §19.1), tel URIs (RFC 3966) and name-addr values (§20.10).

Parsing is hand-written (split and partition, no per-character regex) because
it runs several times for every request. Malformed input raises
``SipParseError``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from callplane.errors import SipParseError

SIP_SCHEMES = frozenset({"sip", "sips", "tel"})
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_WHITESPACE = frozenset(" \t\r\n")
_USER_SAFE = "-_.!~*'()&=+$,;?/"

Params = dict[str, str | None]


def is_token(text: str) -> bool:
    """True if ``text`` is a non-empty RFC 3261 token."""
    return bool(text) and _TOKEN_CHARS.issuperset(text)


def is_scheme(text: str) -> bool:
    return bool(text) and text[0].isalpha() and _SCHEME_CHARS.issuperset(text)


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        raise SipParseError(f"unterminated quoted string in {text!r}")
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """Parse ``;name=value;flag`` (text starts after the first ``;``)."""
    params: Params = {}
    for part in split_unquoted(text, ";"):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not is_token(name):
            raise SipParseError(f"bad parameter {part!r}")
        params[name.lower()] = value.strip() if eq else None
    return params


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def parse_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port``; IPv6 hosts are returned unbracketed."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"unterminated IPv6 reference {text!r}")
        host = text[1:end]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise SipParseError(f"bad IPv6 address {host!r}") from exc
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError(f"bad host {text!r}")
        return host, _port(rest[1:]) if rest else None
    host, colon, port = text.partition(":")
    if not host or not _HOST_CHARS.issuperset(host):
        raise SipParseError(f"bad host {text!r}")
    return host, _port(port) if colon else None


def _port(text: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 5 or int(text) > 65535:
        raise SipParseError(f"bad port {text!r}")
    return int(text)


def format_host(host: str, port: int | None = None) -> str:
    text = f"[{host}]" if ":" in host else host
    return text if port is None else f"{text}:{port}"


@dataclass(slots=True)
class SipUri:
    """A sip:, sips: or tel: URI. ``user`` is percent-decoded."""

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, colon, rest = text.partition(":")
        scheme = scheme.lower()
        if not colon or scheme not in SIP_SCHEMES:
            raise SipParseError(f"unsupported URI scheme in {text!r}")
        if not rest or not _WHITESPACE.isdisjoint(rest):
            raise SipParseError(f"bad URI {text!r}")
        if scheme == "tel":
            number, _, params = rest.partition(";")
            return cls("tel", "", user=number, params=parse_params(params) if params else {})
        return _parse_sip(scheme, rest)

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = quote(self.user, safe=_USER_SAFE)
            if self.password is not None:
                userinfo += ":" + self.password
            userinfo += "@"
        text = f"{self.scheme}:{userinfo}{format_host(self.host, self.port)}"
        text += format_params(self.params)
        if self.headers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return text


def _parse_sip(scheme: str, rest: str) -> SipUri:
    user = password = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
        if "%" in user:
            user = unquote(user, errors="surrogateescape")
    rest, q, header_text = rest.partition("?")
    hostport, semi, param_text = rest.partition(";")
    host, port = parse_host_port(hostport)
    params = parse_params(param_text) if semi else {}
    headers = _parse_uri_headers(header_text) if q else {}
    return SipUri(scheme, host, user, password, port, params, headers)


def _parse_uri_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if not name or not eq:
            raise SipParseError(f"bad URI header {part!r}")
        headers[name] = value
    return headers


def parse_uri(text: str) -> SipUri | str:
    """A SipUri for sip/sips/tel, the text itself for other valid schemes."""
    scheme = text.partition(":")[0]
    if scheme.lower() in SIP_SCHEMES:
        return SipUri.parse(text)
    if ":" not in text or not is_scheme(scheme) or not _WHITESPACE.isdisjoint(text):
        raise SipParseError(f"bad URI {text!r}")
    return text


@dataclass(slots=True)
class NameAddr:
    """From/To/Contact/Route value: ``"Display" <uri>;params`` or ``uri;params``."""

    display_name: str | None
    uri: SipUri | str
    params: Params = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(value: str) -> NameAddr:
    """Parse a name-addr or addr-spec with header parameters (RFC 3261 §20.10)."""
    text = value.strip()
    if text.startswith('"'):
        display, rest = _quoted_string(text)
        rest = rest.lstrip()
        if not rest.startswith("<"):
            raise SipParseError(f"expected <uri> after display name in {value!r}")
        return _angle_addr(display, rest, value)
    lt = text.find("<")
    if lt >= 0:
        display = text[:lt].strip()
        if display and not all(is_token(word) for word in display.split()):
            raise SipParseError(f"bad display name in {value!r}")
        return _angle_addr(display or None, text[lt:], value)
    return _addr_spec(text, value)


def _quoted_string(text: str) -> tuple[str, str]:
    """Split ``"quoted" rest`` into the unescaped content and the rest."""
    chars: list[str] = []
    i, n = 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(chars), text[i + 1 :]
        else:
            chars.append(ch)
            i += 1
    raise SipParseError(f"unterminated quoted string in {text!r}")


def _angle_addr(display: str | None, text: str, value: str) -> NameAddr:
    end = text.find(">")
    if end < 0:
        raise SipParseError(f"missing '>' in {value!r}")
    uri_text = text[1:end]
    rest = text[end + 1 :].strip()
    params: Params = {}
    if rest:
        if not rest.startswith(";"):
            raise SipParseError(f"unexpected text after '>' in {value!r}")
        params = parse_params(rest[1:])
    return NameAddr(display, parse_uri(uri_text), params)


def _addr_spec(text: str, value: str) -> NameAddr:
    uri_text, semi, param_text = text.partition(";")
    uri_text = uri_text.strip()
    if "?" in uri_text or "," in uri_text:
        raise SipParseError(f"URI with headers must be enclosed in <> in {value!r}")
    params = parse_params(param_text) if semi else {}
    return NameAddr(None, parse_uri(uri_text), params)
