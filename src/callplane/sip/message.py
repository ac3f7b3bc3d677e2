"""SIP requests and responses: parsing, validation and serialisation (RFC 3261 §7, §20).

``parse_message(data)`` returns a ``Request`` or ``Response`` or raises
``SipMessageError`` (a ``SipParseError``) whose ``status`` suggests the answer
(400, 505, 416...) and whose ``partial`` holds the request as far as it could
be read, so ``build_response(partial, err.status)`` still works.

Structured headers (Via, From, To, CSeq, Contact) are validated during parsing
and parsed again only on demand through the cached accessors of ``Message``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from callplane.errors import SipParseError
from callplane.sip.headers import CANONICAL, Headers, split_commas
from callplane.sip.uri import (
    NameAddr,
    Params,
    SipUri,
    format_host,
    format_params,
    is_scheme,
    is_token,
    parse_host_port,
    parse_name_addr,
    parse_params,
)

Address = tuple[str, int]  # (host, port)

SIP_VERSION = "SIP/2.0"
MAX_CSEQ = 2**31 - 1
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
SINGLE_VALUED = ("From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type")

REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    429: "Provide Referrer Identity",
    433: "Anonymity Disallowed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}


class SipMessageError(SipParseError):
    """A malformed message; ``status`` is the response a UAS should send."""

    def __init__(self, message: str, partial: Request | None = None, status: int = 400) -> None:
        super().__init__(message, partial)
        self.partial: Request | None = partial
        self.status = status


@dataclass(slots=True)
class Via:
    """One Via value (§20.42): ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {format_host(self.host, self.port)}" + format_params(
            self.params
        )


@dataclass(slots=True, frozen=True)
class CSeq:
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_via(value: str) -> Via:
    """Parse one Via value, tolerating LWS around ``/`` (RFC 4475 §3.1.1.1)."""
    parts = value.split("/", 2)
    if len(parts) != 3 or parts[0].strip().upper() != "SIP" or not parts[1].strip():
        raise SipParseError(f"bad Via {value!r}")
    pieces = parts[2].split(None, 1)
    if len(pieces) != 2 or not is_token(pieces[0]):
        raise SipParseError(f"bad Via transport {value!r}")
    sent_by, semi, param_text = pieces[1].partition(";")
    host, port = parse_host_port(sent_by.strip())
    params = parse_params(param_text) if semi else {}
    return Via(pieces[0].upper(), host, port, params)


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise SipParseError(f"bad CSeq {value!r}")
    if len(parts[0]) > 10 or int(parts[0]) > MAX_CSEQ:
        raise SipParseError(f"CSeq number too large {value!r}")
    if not is_token(parts[1]):
        raise SipParseError(f"bad CSeq method {value!r}")
    return CSeq(int(parts[0]), parts[1])


T = TypeVar("T")


class Message:
    """Common accessors of requests and responses; parsed values are cached."""

    headers: Headers
    body: bytes
    version: str
    _cache: dict[str, tuple[Any, Any]]

    def _parsed(self, name: str, key: Any, parse: Callable[[Any], T]) -> T:
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]  # type: ignore[no-any-return]
        value = parse(key)
        self._cache[name] = (key, value)
        return value

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name}")
        return value

    @property
    def vias(self) -> list[Via]:
        lines = tuple(self.headers.lines("Via"))
        return self._parsed("vias", lines, _parse_vias)

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise SipParseError("missing Via")
        return vias[0]

    @property
    def from_addr(self) -> NameAddr:
        return self._parsed("from", self._required("From"), parse_name_addr)

    @property
    def to_addr(self) -> NameAddr:
        return self._parsed("to", self._required("To"), parse_name_addr)

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return self._parsed("cseq", self._required("CSeq"), parse_cseq)

    @property
    def contacts(self) -> list[NameAddr]:
        values = tuple(self.headers.get_all("Contact"))
        return self._parsed("contact", values, _parse_contacts)

    def _head_bytes(self, start_line: str) -> bytes:
        lines = [start_line]
        length_written = False
        for name, value in self.headers:
            if name == "Content-Length":
                if length_written:
                    continue
                value = str(len(self.body))
                length_written = True
            lines.append(f"{name}: {value}")
        if not length_written:
            lines.append(f"Content-Length: {len(self.body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def _parse_vias(lines: tuple[str, ...]) -> list[Via]:
    return [parse_via(v) for line in lines for v in split_commas(line)]


def _parse_contacts(values: tuple[str, ...]) -> list[NameAddr]:
    return [parse_name_addr(v) for v in values if v != "*"]


@dataclass
class Request(Message):
    method: str
    uri: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, tuple[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def sip_uri(self) -> SipUri:
        return self._parsed("ruri", self.uri, SipUri.parse)

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{self.method} {self.uri} {self.version}") + self.body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


@dataclass
class Response(Message):
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, tuple[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{self.version} {self.status} {self.reason}") + self.body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def parse_message(data: bytes) -> Request | Response:
    """Parse one datagram or framed stream message.

    Bytes beyond Content-Length are ignored (§18.3); leading CRLFs are skipped
    (§7.5). Raises ``SipMessageError``.
    """
    head, body = _split_head(data)
    lines = _unfold(head.decode("utf-8", "surrogateescape"))
    start = lines[0]
    if start.startswith("SIP/"):
        return _parse_response(start, lines, body)
    return _parse_request(start, lines, body)


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if not data or b"\r\n" not in data:
            raise SipMessageError("no SIP start line or header end")
        raise SipMessageError("message has no empty line after the headers")
    return data[:end], data[end + 4 :]


def _unfold(head: str) -> list[str]:
    lines = head.split("\r\n")
    if "\r\n " not in head and "\r\n\t" not in head:
        return lines
    out: list[str] = [lines[0]]
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and len(out) > 1:
            out[-1] = out[-1] + " " + line.strip()
        else:
            out.append(line)
    return out


def _parse_headers(lines: list[str]) -> tuple[Headers, str | None]:
    """Read header lines; the second item describes the first bad line."""
    items: list[tuple[str, str]] = []
    canonical = CANONICAL
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.rstrip()
        if not colon or not is_token(name):
            return Headers._from_canonical(items), f"bad header line {line[:60]!r}"
        items.append((canonical.get(name.lower(), name), value.strip()))
    return Headers._from_canonical(items), None


def _parse_response(start: str, lines: list[str], body: bytes) -> Response:
    version, _, rest = start.partition(" ")
    code, _, reason = rest.partition(" ")
    if version != SIP_VERSION or len(code) != 3 or not code.isdigit() or code[0] not in "123456":
        raise SipMessageError(f"bad status line {start[:80]!r}")
    headers, bad = _parse_headers(lines)
    response = Response(int(code), reason.strip(), headers, b"", version)
    try:
        if bad:
            raise SipParseError(bad)
        response.body = _body(headers, body)
        _check_common(response)
    except SipParseError as exc:
        raise SipMessageError(str(exc)) from None
    return response


def _parse_request(start: str, lines: list[str], body: bytes) -> Request:
    parts = start.split(" ")
    uri = " ".join(parts[1:-1]) if len(parts) > 2 else ""
    headers, bad = _parse_headers(lines)
    request = Request(parts[0], uri, headers, b"", parts[-1] if len(parts) > 1 else "")
    try:
        if bad:
            raise SipParseError(bad)
        _check_request_line(request, parts)
        request.body = _body(headers, body)
        _check_common(request)
        _check_request(request)
    except SipParseError as exc:
        status = exc.status if isinstance(exc, _StatusError) else 400
        partial = request if "Via" in headers and "CSeq" in headers else None
        raise SipMessageError(str(exc), partial, status) from None
    return request


class _StatusError(SipParseError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _check_request_line(request: Request, parts: list[str]) -> None:
    if len(parts) != 3 or not all(parts):
        raise SipParseError("request line must be 'Method SP Request-URI SP SIP-Version'")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError(f"bad method {method!r}")
    if version != SIP_VERSION:
        if version.startswith("SIP/") and version[4:].replace(".", "", 1).isdigit():
            raise _StatusError(f"unsupported version {version!r}", 505)
        raise SipParseError(f"bad version {version!r}")
    scheme = uri.partition(":")[0]
    if not is_scheme(scheme) or ":" not in uri:
        raise SipParseError(f"bad Request-URI {uri!r}")
    if scheme.lower() not in ("sip", "sips", "tel"):
        raise _StatusError(f"unsupported URI scheme {scheme!r}", 416)
    if request.sip_uri.headers:
        raise SipParseError("Request-URI must not carry headers")


def _body(headers: Headers, body: bytes) -> bytes:
    lengths = headers.lines("Content-Length")
    if not lengths:
        return body
    if len(lengths) > 1:
        raise SipParseError("multiple Content-Length headers")
    text = lengths[0]
    if not text.isdigit() or not text.isascii():
        raise SipParseError(f"bad Content-Length {text!r}")
    length = int(text)
    if length > len(body):
        raise SipParseError(f"Content-Length {length} exceeds the {len(body)} body bytes")
    return body[:length]


def _check_common(message: Message) -> None:
    headers = message.headers
    for name in MANDATORY:
        if name not in headers:
            raise SipParseError(f"missing {name}")
    for name in SINGLE_VALUED:
        if headers.count(name) > 1:
            raise SipParseError(f"multiple {name} headers")
    message.vias  # noqa: B018 - validates every Via
    message.from_addr  # noqa: B018
    message.to_addr  # noqa: B018
    message.cseq  # noqa: B018
    if not message.call_id:
        raise SipParseError("empty Call-ID")


def _check_request(request: Request) -> None:
    if request.cseq.method != request.method:
        raise SipParseError("CSeq method does not match the request method")
    max_forwards = request.headers.get("Max-Forwards")
    if max_forwards is not None and (
        not max_forwards.isdigit() or not max_forwards.isascii() or int(max_forwards) > 255
    ):
        raise SipParseError(f"bad Max-Forwards {max_forwards!r}")
    if request.method in ("INVITE", "REGISTER", "SUBSCRIBE", "REFER", "UPDATE"):
        request.contacts  # noqa: B018 - validates Contact


def build_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``request`` copying Via, From, To, Call-ID, CSeq (§8.2.6.2), and
    Record-Route, in order, when it may create a dialog (an INVITE's 101-299, §12.1.1):
    a proxy that record-routes (Kamailio in front of a cluster) stays on the path."""
    items: list[tuple[str, str]] = []
    dialog = request.method == "INVITE" and 100 < status < 300
    for name, value in request.headers:
        if name in ("Via", "From", "Call-ID", "CSeq") or (dialog and name == "Record-Route"):
            items.append((name, value))
        elif name == "To":
            items.append((name, _with_tag(value, to_tag)))
    items.extend((CANONICAL.get(n.lower(), n), v) for n, v in headers)
    return Response(
        status, reason or REASONS.get(status, "Unknown"), Headers._from_canonical(items), body
    )


def _with_tag(to_value: str, tag: str | None) -> str:
    if tag is None:
        return to_value
    try:
        if parse_name_addr(to_value).tag is not None:
            return to_value
    except SipParseError:
        return to_value
    return f"{to_value};tag={tag}"
