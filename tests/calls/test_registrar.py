"""The registrar in memory: built REGISTER requests, a fake endpoint store, explicit times."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from callplane.calls.outbound import uri_destinations
from callplane.calls.registrar import Binding, Bindings, Registrar, Reply
from callplane.net.auth_failures import AuthFailures
from callplane.net.bans import Bans
from callplane.net.sip_transport import SipTransport
from callplane.sip.auth import Challenge, DigestServer, answer, compute_ha1
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import RequestReceived
from callplane.sip.message import Request, Response, parse_message
from callplane.sip.uri import parse_name_addr

USER, PASSWORD, REALM = "alice", "correct horse", "callplane"
URI = "sip:192.0.2.20"
SOURCE = ("192.0.2.10", 5070)
CONTACT = f"<sip:{USER}@192.0.2.10:5070>"


async def find_ha1(username: str) -> str | None:
    return compute_ha1("MD5", USER, REALM, PASSWORD) if username == USER else None


@pytest.fixture
def registrar() -> Registrar:
    return Registrar(find_ha1, auth=DigestServer(REALM, secret=b"s" * 32))


def build(
    *contacts: str,
    expires: str | None = None,
    cseq: int = 1,
    call_id: str = "reg-1@192.0.2.10",
    to_user: str = USER,
    path: tuple[str, ...] = (),
) -> Request:
    lines = [
        f"REGISTER {URI} SIP/2.0",
        f"Via: SIP/2.0/UDP {SOURCE[0]}:{SOURCE[1]};branch=z9hG4bK-{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:{USER}@192.0.2.20>;tag=f{cseq}",
        f"To: <sip:{to_user}@192.0.2.20>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {c}" for c in contacts),
        *([f"Expires: {expires}"] if expires is not None else []),
        *(f"Path: {hop}" for hop in path),
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def sign(
    request: Request,
    registrar: Registrar,
    now: float = 0.0,
    *,
    password: str = PASSWORD,
    username: str = USER,
) -> Request:
    challenge = registrar.auth.challenges(now)[0]
    credentials = answer(challenge, "REGISTER", request.uri, username, password)
    request.headers.set("Authorization", str(credentials))
    return request


async def register(registrar: Registrar, *contacts: str, now: float = 0.0, **fields: Any) -> Reply:
    request = sign(build(*contacts, **fields), registrar, now)
    return await registrar.process(request, SOURCE, "UDP", now)


def listed(reply: Reply) -> dict[str, int]:
    """Contact URI -> expires of a 200's Contact values."""
    result: dict[str, int] = {}
    for name, value in reply.headers:
        if name == "Contact":
            contact = parse_name_addr(value)
            result[str(contact.uri)] = int(contact.params["expires"] or "")
    return result


async def test_no_credentials_get_a_challenge(registrar: Registrar) -> None:
    reply = await registrar.process(build(CONTACT), SOURCE, "UDP", 0.0)
    assert reply.status == 401
    [(name, value)] = reply.headers
    challenge = Challenge.parse(value)
    assert name == "WWW-Authenticate" and challenge.realm == REALM
    assert challenge.qop == ("auth",) and not challenge.stale
    assert registrar.bindings.lookup(USER, 0.0) == []


async def test_register_binds_the_contact_with_the_default_expiry(registrar: Registrar) -> None:
    reply = await register(registrar, CONTACT, now=100.0)
    assert reply.status == 200
    assert listed(reply) == {f"sip:{USER}@192.0.2.10:5070": 3600}
    [binding] = registrar.bindings.lookup(USER, 100.0)
    assert binding.source == SOURCE and binding.transport == "UDP"
    assert binding.call_id == "reg-1@192.0.2.10" and binding.cseq == 1


async def test_a_binding_trusts_its_source_address_until_it_expires(registrar: Registrar) -> None:
    await register(registrar, CONTACT, expires="600", now=100.0)
    assert registrar.bindings.registered_from(SOURCE[0], 100.0)
    assert not registrar.bindings.registered_from("192.0.2.99", 100.0)
    assert not registrar.bindings.registered_from(SOURCE[0], 700.0)


async def test_refresh_updates_the_binding(registrar: Registrar) -> None:
    await register(registrar, CONTACT, expires="600")
    reply = await register(registrar, CONTACT, now=300.0, cseq=2, expires="1800")
    assert listed(reply) == {f"sip:{USER}@192.0.2.10:5070": 1800}
    assert len(registrar.bindings.lookup(USER, 300.0)) == 1


async def test_out_of_order_register_fails(registrar: Registrar) -> None:
    await register(registrar, CONTACT, cseq=5)
    reply = await register(registrar, CONTACT, cseq=5, expires="0")
    assert reply.status == 500
    assert len(registrar.bindings.lookup(USER, 0.0)) == 1


async def test_new_call_id_may_replace_a_binding(registrar: Registrar) -> None:
    await register(registrar, CONTACT, cseq=5)
    reply = await register(registrar, CONTACT, cseq=1, call_id="reboot@192.0.2.10")
    assert reply.status == 200
    assert registrar.bindings.lookup(USER, 0.0)[0].call_id == "reboot@192.0.2.10"


async def test_multiple_contacts_with_their_own_expiry(registrar: Registrar) -> None:
    reply = await register(
        registrar,
        f"{CONTACT};expires=120",
        "<sip:alice@198.51.100.7:5060;transport=tcp>",
        expires="900",
    )
    assert listed(reply) == {
        f"sip:{USER}@192.0.2.10:5070": 120,
        "sip:alice@198.51.100.7:5060;transport=tcp": 900,
    }


async def test_200_lists_every_binding_with_remaining_time(registrar: Registrar) -> None:
    await register(registrar, CONTACT, expires="600")
    reply = await register(
        registrar, "<sip:alice@192.0.2.99>", now=100.0, call_id="desk", expires="3600"
    )
    assert listed(reply) == {f"sip:{USER}@192.0.2.10:5070": 500, "sip:alice@192.0.2.99": 3600}


async def test_interval_too_brief(registrar: Registrar) -> None:
    reply = await register(registrar, CONTACT, "<sip:alice@192.0.2.99>;expires=30")
    assert reply.status == 423 and ("Min-Expires", "60") in reply.headers
    assert registrar.bindings.lookup(USER, 0.0) == []


async def test_expiry_is_capped_and_malformed_means_default(registrar: Registrar) -> None:
    reply = await register(registrar, f"{CONTACT};expires=999999", "<sip:alice@h>;expires=x")
    assert listed(reply) == {f"sip:{USER}@192.0.2.10:5070": 7200, "sip:alice@h": 3600}


async def test_expires_zero_removes_one_contact(registrar: Registrar) -> None:
    await register(registrar, CONTACT, "<sip:alice@192.0.2.99>")
    reply = await register(registrar, f"{CONTACT};expires=0", cseq=2)
    assert listed(reply) == {"sip:alice@192.0.2.99": 3600}


async def test_star_removes_every_binding(registrar: Registrar) -> None:
    await register(registrar, CONTACT, "<sip:alice@192.0.2.99>")
    reply = await register(registrar, "*", cseq=2, expires="0")
    assert reply.status == 200 and listed(reply) == {}
    assert registrar.bindings.lookup(USER, 0.0) == []


@pytest.mark.parametrize(
    ("contacts", "expires"), [(["*"], "60"), (["*"], None), (["*", CONTACT], "0")]
)
async def test_star_needs_expires_zero_and_nothing_else(
    registrar: Registrar, contacts: list[str], expires: str | None
) -> None:
    await register(registrar, CONTACT)
    reply = await register(registrar, *contacts, cseq=2, expires=expires)
    assert reply.status == 400
    assert len(registrar.bindings.lookup(USER, 0.0)) == 1


async def test_query_lists_bindings_without_changing_them(registrar: Registrar) -> None:
    await register(registrar, CONTACT, expires="600")
    reply = await register(registrar, now=60.0, cseq=2)
    assert reply.status == 200 and listed(reply) == {f"sip:{USER}@192.0.2.10:5070": 540}


async def test_wrong_password_is_forbidden_and_logged(
    registrar: Registrar, caplog: pytest.LogCaptureFixture
) -> None:
    request = sign(build(CONTACT), registrar, password="battery staple")
    with caplog.at_level(logging.WARNING, "callplane.registrar"):
        reply = await registrar.process(request, SOURCE, "UDP", 0.0)
    assert reply.status == 403 and registrar.bindings.lookup(USER, 0.0) == []
    assert "wrong digest response" in caplog.text and "192.0.2.10" in caplog.text


async def test_unknown_user_is_forbidden(registrar: Registrar) -> None:
    request = sign(build(CONTACT, to_user="bob"), registrar, username="bob")
    assert (await registrar.process(request, SOURCE, "UDP", 0.0)).status == 403


async def test_to_user_must_be_the_digest_user(registrar: Registrar) -> None:
    request = sign(build(CONTACT, to_user="bob"), registrar)
    assert (await registrar.process(request, SOURCE, "UDP", 0.0)).status == 403
    assert registrar.bindings.lookup("bob", 0.0) == []


async def test_stale_nonce_gets_a_stale_challenge(registrar: Registrar) -> None:
    request = sign(build(CONTACT), registrar, now=0.0)
    reply = await registrar.process(request, SOURCE, "UDP", 301.0)
    assert reply.status == 401 and Challenge.parse(reply.headers[0][1]).stale


async def test_expired_bindings_are_dropped_lazily_and_by_the_sweep(
    registrar: Registrar,
) -> None:
    await register(registrar, CONTACT, expires="60")
    await register(registrar, "<sip:alice@192.0.2.99>", call_id="other", expires="120")
    assert [b.contact_address for b in registrar.bindings.lookup(USER, 61.0)] == [
        ("192.0.2.99", 5060)
    ]
    assert registrar.bindings.sweep(121.0) == 1 and registrar.bindings.count == 0


def test_sweep_drops_every_expired_binding() -> None:
    bindings = Bindings()
    for i, expires in enumerate(["60", "60", "600"]):
        request = build(f"<sip:u{i}@192.0.2.{i + 1}>", expires=expires, to_user=f"u{i}")
        assert bindings.register(f"u{i}", request, SOURCE, "UDP", 0.0).status == 200
    assert bindings.sweep(60.0) == 2 and bindings.count == 1


def test_binding_destination_prefers_the_source_behind_nat() -> None:
    contact = parse_name_addr("<sip:alice@10.0.0.5:5060>")
    natted = Binding(USER, contact, 60.0, "c", 1, ("203.0.113.9", 40123), "UDP")
    assert natted.behind_nat and natted.destination() == (("203.0.113.9", 40123), "UDP")
    direct = Binding(USER, contact, 60.0, "c", 1, ("10.0.0.5", 5060), "UDP")
    assert not direct.behind_nat and direct.destination() == (("10.0.0.5", 5060), "UDP")
    over_tcp = Binding(USER, contact, 60.0, "c", 1, ("10.0.0.5", 5060), "TCP")
    assert over_tcp.destination() == (("10.0.0.5", 5060), "TCP")


KAMAILIO_PATH = "<sip:127.0.0.10:5060;lr;received=sip:192.0.2.10:5070>"


async def test_a_register_through_a_proxy_keeps_its_path_and_the_200_echoes_it(
    registrar: Registrar,
) -> None:
    reply = await register(registrar, CONTACT, path=(KAMAILIO_PATH, "<sip:10.1.1.1;lr>"))
    assert reply.status == 200
    assert [v for n, v in reply.headers if n == "Path"] == [KAMAILIO_PATH, "<sip:10.1.1.1;lr>"]
    (binding,) = registrar.bindings.lookup(USER, 0.0)
    assert binding.path == (KAMAILIO_PATH, "<sip:10.1.1.1;lr>")
    assert binding.destination() == (("127.0.0.10", 5060), "UDP")


async def test_calls_to_a_binding_with_a_path_are_routed_through_it(
    registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(registrar, CONTACT, path=(KAMAILIO_PATH,))
    monkeypatch.setattr("callplane.calls.registrar._now", lambda: 0.0)
    (destination,) = uri_destinations(f"sip:{USER}@callplane", registrar)
    assert destination.uri == f"sip:{USER}@192.0.2.10:5070"
    assert destination.address == ("127.0.0.10", 5060)
    assert destination.route == (KAMAILIO_PATH,)


async def test_an_unusable_path_is_refused(registrar: Registrar) -> None:
    reply = await register(registrar, CONTACT, path=("<tel:+15550001111>",))
    assert reply.status == 400 and registrar.bindings.count == 0


class FakeSip:
    """What the registrar uses of SipTransport: the endpoint and send_response."""

    def __init__(self) -> None:
        self.endpoint = SipEndpoint()
        self.sent: list[Response] = []

    def send_response(self, txn: Any, response: Response) -> None:
        self.endpoint.send_response(txn, response, 0.0)
        self.sent.append(response)


async def test_on_register_answers_through_the_transaction(registrar: Registrar) -> None:
    sip = FakeSip()
    request = sign(build(CONTACT), registrar, now=asyncio.get_running_loop().time())
    sip.endpoint.receive(bytes(request), SOURCE, "UDP", 0.0)
    [event] = sip.endpoint.events()
    assert isinstance(event, RequestReceived)
    registrar.on_register(event, cast(SipTransport, sip))
    for _ in range(5):
        await asyncio.sleep(0)
    [response] = sip.sent
    assert response.status == 200 and "Date" in response.headers
    assert response.to_addr.tag and [c.params["expires"] for c in response.contacts] == ["3600"]
    assert [b.aor for b in registrar.lookup(USER)] == [USER]
    await registrar.close()


async def test_sweeper_runs_and_stops() -> None:
    registrar = Registrar(find_ha1, sweep_interval=0.01)
    now = asyncio.get_running_loop().time()
    request = build(CONTACT, expires="60")
    registrar.bindings.register(USER, request, SOURCE, "UDP", now - 59.99)
    registrar.start()
    await asyncio.sleep(0.05)
    assert registrar.bindings.count == 0
    await registrar.close()


async def test_wrong_passwords_ban_the_source_then_even_the_right_one_is_403() -> None:
    bans = Bans()
    registrar = Registrar(
        find_ha1,
        auth=DigestServer(REALM, secret=b"s" * 32),
        failures=AuthFailures(bans, limit=3),
    )
    for cseq in range(1, 4):
        request = sign(build(CONTACT, cseq=cseq), registrar, password="guess")
        assert (await registrar.process(request, SOURCE, "UDP", 0.0)).status == 403
    assert bans.banned(SOURCE[0])
    right = sign(build(CONTACT, cseq=4), registrar)
    assert (await registrar.process(right, SOURCE, "UDP", 0.0)).status == 403
    elsewhere = sign(build(CONTACT, cseq=5), registrar)
    assert (await registrar.process(elsewhere, ("192.0.2.11", 5070), "UDP", 0.0)).status == 200


async def test_unknown_user_and_wrong_password_get_the_same_reply(registrar: Registrar) -> None:
    unknown = sign(build(CONTACT, to_user="mallory"), registrar, username="mallory")
    wrong = sign(build(CONTACT, cseq=2), registrar, password="guess")
    assert await registrar.process(unknown, SOURCE, "UDP", 0.0) == await registrar.process(
        wrong, SOURCE, "UDP", 0.0
    )
