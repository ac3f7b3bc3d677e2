"""Digest auth: RFC vectors, header round trips, the server's verdicts, the client flow."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from callplane.sip.auth import (
    AuthParseError,
    Challenge,
    Credentials,
    DigestServer,
    Outcome,
    answer,
    compute_ha1,
    digest_flow,
    request_digest,
)
from callplane.sip.message import Request, Response, build_response, parse_message

RFC2617 = {
    "username": "Mufasa",
    "realm": "testrealm@host.com",
    "password": "Circle Of Life",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "cnonce": "0a4f113b",
    "uri": "/dir/index.html",
}
RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "uri": "/dir/index.html",
}
USER, PASSWORD, REALM = "alice", "correct horse", "callplane"
URI = "sip:127.0.0.1:5060"


def vector(algorithm: str, case: dict[str, str]) -> str:
    ha1 = compute_ha1(algorithm, case["username"], case["realm"], case["password"])
    return request_digest(
        algorithm,
        ha1,
        method="GET",
        uri=case["uri"],
        nonce=case["nonce"],
        qop="auth",
        nc="00000001",
        cnonce=case["cnonce"],
    )


def test_rfc2617_md5_example() -> None:
    assert vector("MD5", RFC2617) == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_examples(algorithm: str, expected: str) -> None:
    assert vector(algorithm, RFC7616) == expected


def test_rfc2069_style_digest_without_qop() -> None:
    ha1 = compute_ha1("MD5", "u", "r", "p")
    ha2 = hashlib.md5(f"REGISTER:{URI}".encode()).hexdigest()
    expected = hashlib.md5(f"{ha1}:n:{ha2}".encode()).hexdigest()
    assert request_digest("MD5", ha1, method="REGISTER", uri=URI, nonce="n") == expected


def test_sess_variant_differs_from_plain() -> None:
    ha1 = compute_ha1("MD5", "u", "r", "p")
    args = {"method": "REGISTER", "uri": URI, "nonce": "n", "qop": "auth", "nc": "00000001"}
    plain = request_digest("MD5", ha1, cnonce="c", **args)
    assert request_digest("MD5-sess", ha1, cnonce="c", **args) != plain


def test_challenge_round_trip() -> None:
    text = (
        'Digest realm="callplane", nonce="abc", opaque="xyz", algorithm=SHA-256, '
        'qop="auth,auth-int", stale=TRUE'
    )
    challenge = Challenge.parse(text)
    assert challenge == Challenge("callplane", "abc", "SHA-256", ("auth", "auth-int"), "xyz", True)
    assert Challenge.parse(str(challenge)) == challenge


def test_credentials_round_trip_with_escapes() -> None:
    credentials = Credentials(
        'we "quote"\\', REALM, "n", URI, "0" * 32, "MD5", "auth", "00000001", "c", "o"
    )
    text = str(credentials)
    assert 'username="we \\"quote\\"\\\\"' in text and "qop=auth" in text and "nc=00000001" in text
    assert Credentials.parse(text) == credentials


@pytest.mark.parametrize(
    "value",
    [
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        'Digest username="a", realm="r", nonce="n", uri="u"',  # no response
        'Digest username="a, realm="r"',  # unterminated quote
        'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth',
        'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, '
        'nc=1, cnonce="c"',
        "Digest =x",
        "",
    ],
)
def test_bad_credentials_raise_parse_error(value: str) -> None:
    with pytest.raises(AuthParseError):
        Credentials.parse(value)


# -- server --------------------------------------------------------------------


def lookup(user: str, algorithm: str) -> str | None:
    return compute_ha1(algorithm, USER, REALM, PASSWORD) if user == USER else None


def credentials_for(
    server: DigestServer, now: float, password: str = PASSWORD, **changes: str
) -> str:
    challenge = server.challenges(now)[0]
    credentials = answer(challenge, "REGISTER", URI, changes.pop("username", USER), password)
    return str(dataclasses.replace(credentials, **changes))


@pytest.fixture
def server() -> DigestServer:
    return DigestServer(REALM, secret=b"k" * 32, nonce_ttl=300)


def test_valid_credentials(server: DigestServer) -> None:
    result = server.verify("REGISTER", credentials_for(server, 10.0), lookup, 20.0, uri=URI)
    assert result.ok and result.username == USER


def test_sha256_credentials() -> None:
    server = DigestServer(REALM, algorithms=("SHA-256", "MD5"))
    challenges = server.challenges(0.0)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    text = str(answer(challenges[0], "REGISTER", URI, USER, PASSWORD))
    assert "algorithm=SHA-256" in text
    assert server.verify("REGISTER", text, lookup, 1.0).ok


def test_missing_credentials(server: DigestServer) -> None:
    assert server.verify("REGISTER", None, lookup, 0.0).outcome is Outcome.MISSING


def test_expired_nonce_is_stale(server: DigestServer) -> None:
    assert server.verify("REGISTER", credentials_for(server, 0.0), lookup, 299.0).ok
    result = server.verify("REGISTER", credentials_for(server, 0.0), lookup, 301.0)
    assert result.outcome is Outcome.STALE and result.reason == "nonce expired or not issued here"


def test_nonces_live_30_seconds_by_default() -> None:
    server = DigestServer(REALM)
    assert server.verify("REGISTER", credentials_for(server, 0.0), lookup, 29.0).ok
    assert server.verify("REGISTER", credentials_for(server, 0.0), lookup, 31.0).outcome is (
        Outcome.STALE
    )


def with_count(text: str, nc: int) -> str:
    """The same credentials with nonce-count ``nc`` and a response computed for it."""
    old = Credentials.parse(text)
    count = f"{nc:08x}"
    response = request_digest(
        "MD5",
        compute_ha1("MD5", USER, REALM, PASSWORD),
        method="REGISTER",
        uri=old.uri,
        nonce=old.nonce,
        qop="auth",
        nc=count,
        cnonce=old.cnonce,
    )
    return str(dataclasses.replace(old, nc=count, response=response))


def test_a_replayed_nonce_count_is_stale(server: DigestServer) -> None:
    text = credentials_for(server, 0.0)
    assert server.verify("REGISTER", text, lookup, 1.0).ok
    replayed = server.verify("REGISTER", text, lookup, 2.0)
    assert replayed.outcome is Outcome.STALE and "replayed" in replayed.reason


def test_a_nonce_serves_increasing_counts_only(server: DigestServer) -> None:
    text = credentials_for(server, 0.0)
    assert server.verify("REGISTER", with_count(text, 3), lookup, 1.0).ok
    assert server.verify("REGISTER", with_count(text, 2), lookup, 1.0).outcome is Outcome.STALE
    assert server.verify("REGISTER", with_count(text, 3), lookup, 1.0).outcome is Outcome.STALE
    assert server.verify("REGISTER", with_count(text, 4), lookup, 1.0).ok


def test_remembered_nonces_are_bounded_oldest_forgotten_first() -> None:
    server = DigestServer(REALM, secret=b"k" * 32, max_nonces=3)
    texts = [credentials_for(server, 0.0) for _ in range(4)]
    forgotten = server.verify("REGISTER", texts[0], lookup, 1.0)
    assert forgotten.outcome is Outcome.STALE and forgotten.reason == "nonce forgotten"
    assert all(server.verify("REGISTER", text, lookup, 1.0).ok for text in texts[1:])


def test_a_wrong_password_does_not_use_up_the_nonce(server: DigestServer) -> None:
    challenge = server.challenges(0.0)[0]
    wrong = str(answer(challenge, "REGISTER", URI, USER, "wrong"))
    assert server.verify("REGISTER", wrong, lookup, 1.0).outcome is Outcome.FORBIDDEN
    right = str(answer(challenge, "REGISTER", URI, USER, PASSWORD))
    assert server.verify("REGISTER", right, lookup, 1.0).ok


def test_nonce_from_another_process_is_stale(server: DigestServer) -> None:
    other = DigestServer(REALM, secret=b"z" * 32)
    text = credentials_for(other, 0.0)
    assert server.verify("REGISTER", text, lookup, 1.0).outcome is Outcome.STALE


def test_forged_nonce_timestamp_is_stale(server: DigestServer) -> None:
    text = credentials_for(server, 0.0)
    nonce = Credentials.parse(text).nonce
    forged = "999000." + nonce.split(".", 1)[1]
    challenge = dataclasses.replace(server.challenges(0.0)[0], nonce=forged)
    forged_text = str(answer(challenge, "REGISTER", URI, USER, PASSWORD))
    assert server.verify("REGISTER", forged_text, lookup, 1000.0).outcome is Outcome.STALE


def test_wrong_password_is_forbidden(server: DigestServer) -> None:
    text = credentials_for(server, 0.0, password="wrong")
    result = server.verify("REGISTER", text, lookup, 1.0)
    assert result.outcome is Outcome.FORBIDDEN and result.reason == "wrong digest response"


def test_unknown_user_is_forbidden(server: DigestServer) -> None:
    text = credentials_for(server, 0.0, username="mallory")
    assert server.verify("REGISTER", text, lookup, 1.0).outcome is Outcome.FORBIDDEN


@pytest.mark.parametrize(
    "changes",
    [
        {"response": "0" * 32},
        {"cnonce": "other"},
        {"nc": "00000002"},
        {"username": "Alice"},
    ],
)
def test_tampered_response_is_forbidden(server: DigestServer, changes: dict[str, str]) -> None:
    text = credentials_for(server, 0.0)
    tampered = str(dataclasses.replace(Credentials.parse(text), **changes))
    assert server.verify("REGISTER", tampered, lookup, 1.0).outcome is Outcome.FORBIDDEN


def test_response_for_another_method_is_forbidden(server: DigestServer) -> None:
    text = credentials_for(server, 0.0)
    assert server.verify("INVITE", text, lookup, 1.0).outcome is Outcome.FORBIDDEN


@pytest.mark.parametrize(
    "changes",
    [{"realm": "elsewhere"}, {"algorithm": "SHA-256"}, {"uri": "sip:other.example"}],
)
def test_unacceptable_credentials_are_challenged(
    server: DigestServer, changes: dict[str, str]
) -> None:
    text = str(dataclasses.replace(Credentials.parse(credentials_for(server, 0.0)), **changes))
    result = server.verify("REGISTER", text, lookup, 1.0, uri=URI)
    assert result.outcome is Outcome.MISSING


def test_credentials_without_qop_are_challenged(server: DigestServer) -> None:
    parsed = Credentials.parse(credentials_for(server, 0.0))
    text = str(dataclasses.replace(parsed, qop=None, nc=None, cnonce=None))
    assert server.verify("REGISTER", text, lookup, 1.0).outcome is Outcome.MISSING


# -- client flow ---------------------------------------------------------------


def register_request() -> Request:
    data = (
        f"REGISTER {URI} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-first;rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{USER}@127.0.0.1>;tag=f1\r\n"
        f"To: <sip:{USER}@127.0.0.1>\r\n"
        "Call-ID: reg-1\r\n"
        "CSeq: 7 REGISTER\r\n"
        f"Contact: <sip:{USER}@127.0.0.1:5070>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def challenge_response(request: Request, server: DigestServer, status: int = 401) -> Response:
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    values = [(header, str(c)) for c in server.challenges(0.0)]
    return build_response(request, status, to_tag="t", headers=values)


@pytest.mark.parametrize("status", [401, 407])
def test_digest_flow_answers_a_challenge(server: DigestServer, status: int) -> None:
    first = register_request()
    flow = digest_flow(first, USER, PASSWORD)
    assert next(flow) is first
    retry = flow.send(challenge_response(first, server, status))
    assert retry.cseq.seq == 8 and retry.call_id == "reg-1"
    assert retry.top_via.branch != first.top_via.branch
    assert retry.top_via.branch and retry.top_via.branch.startswith("z9hG4bK")
    header = "Authorization" if status == 401 else "Proxy-Authorization"
    assert server.verify("REGISTER", retry.headers.get(header), lookup, 1.0, uri=URI).ok
    ok = build_response(retry, 200, to_tag="t")
    with pytest.raises(StopIteration) as stop:
        flow.send(ok)
    assert stop.value.value is ok


def test_digest_flow_gives_up_after_a_second_plain_challenge(server: DigestServer) -> None:
    first = register_request()
    flow = digest_flow(first, USER, "wrong")
    next(flow)
    retry = flow.send(challenge_response(first, server))
    again = challenge_response(retry, server)
    with pytest.raises(StopIteration) as stop:
        flow.send(again)
    assert stop.value.value is again


def test_digest_flow_retries_on_stale(server: DigestServer) -> None:
    first = register_request()
    flow = digest_flow(first, USER, PASSWORD)
    next(flow)
    retry = flow.send(challenge_response(first, server))
    stale = build_response(
        retry, 401, headers=[("WWW-Authenticate", str(server.challenges(400.0, stale=True)[0]))]
    )
    third = flow.send(stale)
    assert third.cseq.seq == 9
    assert server.verify("REGISTER", third.headers.get("Authorization"), lookup, 401.0).ok


def test_digest_flow_returns_non_challenges_and_unusable_challenges(
    server: DigestServer,
) -> None:
    first = register_request()
    flow = digest_flow(first, USER, PASSWORD)
    next(flow)
    basic = build_response(first, 401, headers=[("WWW-Authenticate", 'Basic realm="x"')])
    with pytest.raises(StopIteration) as stop:
        flow.send(basic)
    assert stop.value.value is basic
