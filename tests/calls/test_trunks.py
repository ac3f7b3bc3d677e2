"""Trunk routing without the network: choosing, rewriting, and trusting inbound INVITEs."""

from __future__ import annotations

import pytest

from callplane.calls.outbound import number_destination
from callplane.calls.trunks import (
    InboundTrunks,
    choose_trunk,
    number_uri,
    rewrite_number,
)
from callplane.sip.auth import answer, pick_challenge, with_credentials
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response
from callplane.store.models import Trunk
from callplane.store.secrets import digest_ha1


def trunk(name: str, prefixes: tuple[str, ...] = (), **fields: object) -> Trunk:
    return Trunk(f"TR-{name}", "MA1", name, "192.0.2.10", prefixes=prefixes, **fields)  # type: ignore[arg-type]


DEFAULT = trunk("default")
US = trunk("us", ("1",))
NYC = trunk("nyc", ("1212", "1646"))
UK = trunk("uk", ("44",))


@pytest.mark.parametrize(
    ("number", "chosen"),
    [
        ("+1 212 555 0100", NYC),  # longest prefix wins
        ("16465550100", NYC),
        ("13105550100", US),
        ("442071234567", UK),
        ("4915112345678", DEFAULT),  # no prefix matches: the default trunk
    ],
)
def test_longest_prefix_wins_then_the_default(number: str, chosen: Trunk) -> None:
    assert choose_trunk([DEFAULT, US, NYC, UK], number) is chosen


def test_no_default_trunk_means_no_route_and_ties_keep_table_order() -> None:
    assert choose_trunk([US, UK], "4915112345678") is None
    assert choose_trunk([], "15551234567") is None
    second_us = trunk("us2", ("1",))
    assert choose_trunk([US, second_us], "15551234567") is US


def test_number_rewrite_and_uri() -> None:
    national = trunk("uk-national", ("44",), strip_digits=2, add_prefix="0")
    assert rewrite_number(national, "+44 20 7123 4567") == "02071234567"
    tcp = trunk("tcp", transport="tcp", port=5080)
    assert number_uri(tcp, "15551234567") == "sip:15551234567@192.0.2.10:5080;transport=tcp"
    v6 = Trunk("TR-6", "MA1", "v6", "2001:db8::1")
    assert number_uri(v6, "1555") == "sip:1555@[2001:db8::1]:5060"
    srv = Trunk("TR-7", "MA1", "srv", "carrier.example.com", port=0)
    assert number_uri(srv, "1555") == "sip:1555@carrier.example.com"  # the SRV records say


def test_number_destination_carries_credentials_and_caller_id() -> None:
    gateway = trunk("gw", username="acme", password="pw", caller_id="14155550100", port=5070)
    found = number_destination("15557654321", [gateway])
    assert found is not None
    assert found.uri == "sip:15557654321@192.0.2.10:5070"
    assert found.address == ("192.0.2.10", 5070) and found.transport == "UDP"
    assert (found.username, found.password, found.caller_id) == ("acme", "pw", "14155550100")
    assert number_destination("15557654321", []) is None


def invite(**headers: str) -> Request:
    fields = Headers(
        [
            ("Via", "SIP/2.0/UDP 127.0.0.2:5099;branch=z9hG4bK-1"),
            ("From", "<sip:carrier@127.0.0.2>;tag=1"),
            ("To", "<sip:15550001111@127.0.0.1>"),
            ("Call-ID", "trunk-test"),
            ("CSeq", "1 INVITE"),
            *headers.items(),
        ]
    )
    return Request("INVITE", "sip:15550001111@127.0.0.1", fields)


ACL = trunk("acl", inbound_acl=("127.0.0.2/32", "10.1.0.0/16"))
DIGEST = trunk("digest", inbound_username="carrier", inbound_ha1=digest_ha1("carrier", "s3cret-in"))


def test_an_acl_source_is_taken_as_its_trunk() -> None:
    check = InboundTrunks()
    assert check.check([ACL], invite(), "127.0.0.2", 100.0).trunk is ACL
    assert check.check([ACL], invite(), "10.1.200.3", 100.0).trunk is ACL
    open_verdict = check.check([ACL], invite(), "127.0.0.3", 100.0)
    assert (open_verdict.trunk, open_verdict.status) == (None, 0)  # numbers stay callable


def test_trunk_only_refuses_unknown_sources() -> None:
    check = InboundTrunks(trunk_only=True)
    assert check.check([ACL], invite(), "127.0.0.3", 100.0).status == 403
    assert check.check([ACL], invite(), "127.0.0.2", 100.0).status == 0


def test_digest_trunk_challenges_then_accepts_the_answer() -> None:
    check = InboundTrunks()
    request = invite()
    verdict = check.check([ACL, DIGEST], request, "127.0.0.9", 100.0)
    assert verdict.status == 407
    challenge_response = Response(407, "Proxy Authentication Required", Headers(verdict.headers))
    challenge = pick_challenge(challenge_response)
    assert challenge is not None
    credentials = answer(challenge, "INVITE", request.uri, "carrier", "s3cret-in")
    retried = with_credentials(request, 407, credentials)
    assert check.check([ACL, DIGEST], retried, "127.0.0.9", 101.0).trunk is DIGEST

    wrong = with_credentials(
        request, 407, answer(challenge, "INVITE", request.uri, "carrier", "wrong")
    )
    assert check.check([ACL, DIGEST], wrong, "127.0.0.9", 101.0).status == 403
    stale = check.check([DIGEST], retried, "127.0.0.9", 100.0 + 3600)
    assert stale.status == 407 and "stale=true" in stale.headers[0][1]


def test_a_nonce_from_another_process_is_not_accepted() -> None:
    request = invite()
    verdict = InboundTrunks(secret=b"a" * 32).check([DIGEST], request, "127.0.0.9", 1.0)
    challenge = pick_challenge(Response(407, "x", Headers(verdict.headers)))
    assert challenge is not None
    retried = with_credentials(
        request, 407, answer(challenge, "INVITE", request.uri, "carrier", "s3cret-in")
    )
    other = InboundTrunks(secret=b"b" * 32).check([DIGEST], retried, "127.0.0.9", 2.0)
    assert other.status == 407
