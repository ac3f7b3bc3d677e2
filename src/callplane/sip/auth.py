"""SIP digest authentication (RFC 3261 §22, RFC 2617 §3, RFC 7616, RFC 8760), sans-IO.

Server side: ``DigestServer`` issues challenges and checks credentials::

    server = DigestServer("callplane")
    for challenge in server.challenges(now):           # WWW-Authenticate values
        ...
    result = server.verify("REGISTER", authorization, ha1_lookup, now, uri=request.uri)
    result.outcome  # OK | MISSING (challenge) | STALE (challenge, stale=true) | FORBIDDEN (403)

Nonces are ``<issued ms>.<salt>.<HMAC>`` under a per-process secret, valid for
``nonce_ttl`` seconds (30 s), and counted: the server remembers, for each nonce it
issued in the last ``nonce_ttl`` seconds (at most ``max_nonces`` of them, oldest
forgotten first), the highest nonce-count (``nc``) accepted with it. A correct
digest is STALE (a new challenge with ``stale=true``: the client knows the password
and retries without asking its user, RFC 2617 §3.2.1, RFC 7616 §3.3) when its nonce
expired, was not issued by this server (e.g. before a restart) or was forgotten, or
when its ``nc`` is not above the last one accepted: a captured request replayed,
or a client reusing a nonce count, gets nothing but a fresh challenge.

Client side: ``digest_flow`` is an I/O-free generator, ``response = yield request``,
that answers a 401/407 once with credentials (again only when told ``stale=true``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from enum import Enum

from callplane.errors import SipParseError
from callplane.sip.headers import split_commas
from callplane.sip.ids import new_branch
from callplane.sip.message import Request, Response, Via
from callplane.sip.uri import is_token

NONCE_TTL = 30.0
MAX_NONCES = 20_000  # nonces remembered at once: bounds memory under a challenge flood
MAX_ROUNDS = 4  # challenges digest_flow answers for one request
Ha1Lookup = Callable[[str, str], str | None]
"""(username, base algorithm "MD5" | "SHA-256") -> hex H(username:realm:password) or None."""


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


HASHES: dict[str, Callable[[bytes], str]] = {"MD5": _md5, "SHA-256": _sha256}
ALGORITHMS = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")  # client preference, best first
CHALLENGE_HEADERS = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}
CREDENTIAL_HEADERS = {401: "Authorization", 407: "Proxy-Authorization"}


class AuthParseError(SipParseError):
    """A WWW-Authenticate/Authorization value that is not a usable Digest one."""


# -- the digest itself (RFC 2617 §3.2.2, RFC 7616 §3.4) ---------------------


def base_algorithm(algorithm: str) -> str:
    """``MD5-sess`` -> ``MD5``; raises AuthParseError for algorithms we lack."""
    base = algorithm.upper().removesuffix("-SESS")
    if base not in HASHES:
        raise AuthParseError(f"unsupported digest algorithm {algorithm!r}")
    return base


def digest_hash(algorithm: str, text: str) -> str:
    """H(data) for ``algorithm`` (the ``-sess`` suffix does not change the hash)."""
    return HASHES[base_algorithm(algorithm)](text.encode("utf-8"))


def compute_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """H(username:realm:password), what a server stores instead of the password."""
    return digest_hash(algorithm, f"{username}:{realm}:{password}")


def request_digest(
    algorithm: str,
    ha1: str,
    *,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value: KD(HA1, nonce[:nc:cnonce:qop]:H(method:uri))."""
    if algorithm.lower().endswith("-sess"):
        ha1 = digest_hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = digest_hash(algorithm, f"{method}:{uri}")
    data = f"{nonce}:{nc}:{cnonce}:{qop}:{ha2}" if qop else f"{nonce}:{ha2}"
    return digest_hash(algorithm, f"{ha1}:{data}")


# -- header values ------------------------------------------------------------


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """``Digest a=b, c="d"`` -> ("Digest", {"a": "b", "c": "d"}); names lower-cased."""
    pieces = value.strip().split(None, 1)
    if not pieces or not is_token(pieces[0]):
        raise AuthParseError(f"bad auth scheme in {value[:60]!r}")
    params: dict[str, str] = {}
    for item in split_commas(pieces[1]) if len(pieces) == 2 else []:
        name, eq, raw = item.partition("=")
        name = name.strip().lower()
        if not eq or not is_token(name):
            raise AuthParseError(f"bad auth parameter {item[:60]!r}")
        params[name] = _unquote(raw.strip())
    return pieces[0], params


def _unquote(text: str) -> str:
    if not text.startswith('"'):
        return text
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(text[1:], 1):
        if escaped or ch not in '\\"':
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif i == len(text) - 1:
            return "".join(out)
        else:
            break
    raise AuthParseError(f"bad quoted string {text[:60]!r}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format(pairs: Iterable[tuple[str, str | None, bool]]) -> str:
    """``Digest`` + name=value pairs; the flag says whether the value is quoted."""
    items = [f"{n}={_quote(v) if q else v}" for n, v, q in pairs if v is not None]
    return "Digest " + ", ".join(items)


def _digest_params(value: str) -> dict[str, str]:
    scheme, params = parse_auth_params(value)
    if scheme.lower() != "digest":
        raise AuthParseError(f"not a Digest value: {scheme!r}")
    return params


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise AuthParseError(f"digest parameter {name!r} missing")
    return value


@dataclass(frozen=True, slots=True)
class Challenge:
    """A WWW-Authenticate / Proxy-Authenticate value (RFC 2617 §3.2.1)."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ("auth",)
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> Challenge:
        params = _digest_params(value)
        qop = tuple(t.strip().lower() for t in params.get("qop", "").split(",") if t.strip())
        return cls(
            realm=_required(params, "realm"),
            nonce=_required(params, "nonce"),
            algorithm=params.get("algorithm", "MD5"),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )

    def __str__(self) -> str:
        return _format(
            [
                ("realm", self.realm, True),
                ("nonce", self.nonce, True),
                ("opaque", self.opaque, True),
                ("algorithm", self.algorithm, False),
                ("qop", ",".join(self.qop) or None, True),
                ("stale", "true" if self.stale else None, False),
            ]
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """An Authorization / Proxy-Authorization value (RFC 2617 §3.2.2)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, value: str) -> Credentials:
        params = _digest_params(value)
        credentials = cls(
            username=_required(params, "username"),
            realm=_required(params, "realm"),
            nonce=_required(params, "nonce"),
            uri=_required(params, "uri"),
            response=_required(params, "response").lower(),
            algorithm=params.get("algorithm", "MD5"),
            qop=params["qop"].lower() if "qop" in params else None,
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            opaque=params.get("opaque"),
        )
        credentials._check_qop()
        return credentials

    def _check_qop(self) -> None:
        if self.qop is None:
            return
        if not self.cnonce or not self.nc:
            raise AuthParseError("qop needs nc and cnonce")
        if len(self.nc) != 8 or not all(c in "0123456789abcdefABCDEF" for c in self.nc):
            raise AuthParseError(f"bad nc {self.nc!r}")

    def __str__(self) -> str:
        return _format(
            [
                ("username", self.username, True),
                ("realm", self.realm, True),
                ("nonce", self.nonce, True),
                ("uri", self.uri, True),
                ("response", self.response, True),
                ("algorithm", self.algorithm, False),
                ("cnonce", self.cnonce, True),
                ("opaque", self.opaque, True),
                ("qop", self.qop, False),
                ("nc", self.nc, False),
            ]
        )


# -- server side ---------------------------------------------------------------


class Outcome(Enum):
    OK = "ok"
    MISSING = "missing"  # no usable credentials: answer with a fresh challenge
    STALE = "stale"  # right password, nonce expired/not ours/replayed: stale=true challenge
    FORBIDDEN = "forbidden"  # unknown user or wrong password: 403


@dataclass(frozen=True, slots=True)
class AuthResult:
    outcome: Outcome
    username: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


class DigestServer:
    """Challenges and verification for one realm; see the module docstring."""

    def __init__(
        self,
        realm: str,
        *,
        secret: bytes | None = None,
        nonce_ttl: float = NONCE_TTL,
        algorithms: tuple[str, ...] = ("MD5",),
        max_nonces: int = MAX_NONCES,
    ) -> None:
        for algorithm in algorithms:
            base_algorithm(algorithm)
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self.algorithms = algorithms
        self.max_nonces = max_nonces
        self._secret = secret or secrets.token_bytes(32)
        self.opaque = self._mac("opaque")[:16]
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        """nonce -> (issued at, highest nc accepted); oldest first."""

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """One challenge per algorithm, preferred first (RFC 8760 §2.4)."""
        nonce = self.new_nonce(now)
        return [
            Challenge(self.realm, nonce, algorithm, ("auth",), self.opaque, stale)
            for algorithm in self.algorithms
        ]

    def new_nonce(self, now: float) -> str:
        stamp, salt = str(int(now * 1000)), secrets.token_hex(6)
        nonce = f"{stamp}.{salt}.{self._mac(stamp, salt)}"
        self._forget_old(now)
        self._counts[nonce] = (now, 0)
        return nonce

    def _forget_old(self, now: float) -> None:
        counts = self._counts
        while counts and (
            len(counts) >= self.max_nonces or now - next(iter(counts.values()))[0] > self.nonce_ttl
        ):
            counts.popitem(last=False)

    def _count(self, nonce: str, nc: str | None) -> str | None:
        """Accept nonce-count ``nc`` for ``nonce``; why not, if it is refused."""
        entry = self._counts.get(nonce)
        if entry is None:
            return "nonce forgotten"
        count = int(nc or "0", 16)
        if count <= entry[1]:
            return f"nonce count {nc} not above {entry[1]:08x} (replayed)"
        self._counts[nonce] = (entry[0], count)
        return None

    def nonce_fresh(self, nonce: str, now: float) -> bool:
        """Issued by this process (the HMAC matches) no more than ``nonce_ttl`` ago."""
        parts = nonce.split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._mac(*parts[:2])):
            return False
        age = now - int(parts[0]) / 1000
        return 0 <= age <= self.nonce_ttl

    def _mac(self, *parts: str) -> str:
        text = ":".join((self.realm, *parts)).encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()[:32]

    def verify(
        self,
        method: str,
        authorization: str | None,
        ha1_lookup: Ha1Lookup,
        now: float,
        *,
        uri: str | None = None,
    ) -> AuthResult:
        """Check an Authorization value for a ``method`` request (to ``uri`` if given)."""
        if not authorization:
            return AuthResult(Outcome.MISSING, reason="no credentials")
        try:
            credentials = Credentials.parse(authorization)
            problem = self._unacceptable(credentials, uri)
        except AuthParseError as exc:
            return AuthResult(Outcome.MISSING, reason=str(exc))
        if problem:
            return AuthResult(Outcome.MISSING, credentials.username, problem)
        return self._check(method, credentials, ha1_lookup, now)

    def _unacceptable(self, credentials: Credentials, uri: str | None) -> str | None:
        if credentials.realm != self.realm:
            return f"realm {credentials.realm!r} is not {self.realm!r}"
        offered = {a.lower() for a in self.algorithms}
        if credentials.algorithm.lower() not in offered:
            return f"algorithm {credentials.algorithm!r} was not offered"
        if credentials.qop != "auth":
            return f"qop {credentials.qop!r} instead of 'auth'"
        if uri is not None and credentials.uri != uri:
            return f"digest uri {credentials.uri!r} is not the Request-URI {uri!r}"
        return None

    def _check(
        self, method: str, credentials: Credentials, ha1_lookup: Ha1Lookup, now: float
    ) -> AuthResult:
        username = credentials.username
        ha1 = ha1_lookup(username, base_algorithm(credentials.algorithm))
        expected = request_digest(  # computed for unknown users too: the same work either way
            credentials.algorithm,
            ha1 or self._mac("unknown", username),
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
        )
        if not hmac.compare_digest(expected, credentials.response) or ha1 is None:
            why = "unknown user" if ha1 is None else "wrong digest response"
            return AuthResult(Outcome.FORBIDDEN, username, why)
        if credentials.opaque != self.opaque or not self.nonce_fresh(credentials.nonce, now):
            return AuthResult(Outcome.STALE, username, "nonce expired or not issued here")
        refused = self._count(credentials.nonce, credentials.nc)
        if refused:
            return AuthResult(Outcome.STALE, username, refused)
        return AuthResult(Outcome.OK, username)


# -- client side ---------------------------------------------------------------


def pick_challenge(response: Response) -> Challenge | None:
    """The best Digest challenge of a 401/407 we can answer (SHA-256 before MD5)."""
    header = CHALLENGE_HEADERS.get(response.status)
    if header is None:
        return None
    usable: list[Challenge] = []
    for value in response.headers.get_all(header):
        try:
            challenge = Challenge.parse(value)
        except AuthParseError:
            continue
        if _answerable(challenge):
            usable.append(challenge)
    usable.sort(key=lambda c: [a.lower() for a in ALGORITHMS].index(c.algorithm.lower()))
    return usable[0] if usable else None


def _answerable(challenge: Challenge) -> bool:
    known = challenge.algorithm.lower() in (a.lower() for a in ALGORITHMS)
    return known and (not challenge.qop or "auth" in challenge.qop)


def answer(
    challenge: Challenge, method: str, uri: str, username: str, password: str
) -> Credentials:
    """Credentials for one request to ``uri`` answering ``challenge``."""
    qop = "auth" if challenge.qop else None
    nc, cnonce = ("00000001", secrets.token_hex(8)) if qop else (None, None)
    ha1 = compute_ha1(challenge.algorithm, username, challenge.realm, password)
    response = request_digest(
        challenge.algorithm,
        ha1,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
    )
    return Credentials(
        username,
        challenge.realm,
        challenge.nonce,
        uri,
        response,
        challenge.algorithm,
        qop,
        nc,
        cnonce,
        challenge.opaque,
    )


def with_credentials(request: Request, status: int, credentials: Credentials) -> Request:
    """A copy of ``request`` carrying ``credentials``, CSeq + 1 and a new Via branch."""
    headers = request.headers.copy()
    headers.set("CSeq", f"{request.cseq.seq + 1} {request.method}")
    headers.set(CREDENTIAL_HEADERS[status], str(credentials))
    if "Via" in headers:
        via = request.top_via
        params = {**via.params, "branch": new_branch()}
        headers.replace_first("Via", str(Via(via.transport, via.host, via.port, params)))
    return Request(request.method, request.uri, headers, request.body, request.version)


def digest_flow(
    request: Request, username: str, password: str
) -> Generator[Request, Response, Response]:
    """Send ``request``; answer a 401/407 with credentials; return the final response.

    Each challenge kind (401, 407) is answered once, and again only when the
    server says ``stale=true``, so a wrong password ends in the 401/407 itself.
    """
    response = yield request
    answered: list[int] = []
    while response.status in CHALLENGE_HEADERS and len(answered) < MAX_ROUNDS:
        challenge = pick_challenge(response)
        if challenge is None or (response.status in answered and not challenge.stale):
            return response
        answered.append(response.status)
        credentials = answer(challenge, request.method, request.uri, username, password)
        request = with_credentials(request, response.status, credentials)
        response = yield request
    return response
