"""RFC 4475 (torture tests) and RFC 5118 (IPv6 torture tests) against the parser and endpoint.

Expected UAS outcomes follow the RFC text where the manifest leaves a choice
or disagrees (scalarlg: a response, so dropped rather than "400"; ncl.dat is
missing from the manifest and is RFC 4475 §3.1.2.3, invalid -> 400):
trws (3.1.2.10) and escruri (3.1.2.11) are rejected with 400, baddate (3.1.2.12)
is accepted, mismatch02 (3.1.2.18) gets 400. RFC 5118 §4.10's three-colon
IPv6 reference is invalid under the corrected ABNF (RFC 5954): 400.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import pytest

from callplane.errors import SipParseError
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import BadMessage, RequestReceived
from callplane.sip.message import Request, SipMessageError, parse_message
from callplane.sip.sdp import parse_sdp

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
pytestmark = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason=f"conformance messages not found at {CONFORMANCE}"
)

DELIVER = "RequestReceived"
DROP = "drop"
EXPECTED: dict[str, int | str] = {
    # RFC 4475 §3.1.1 valid
    "rfc4475/wsinv.dat": DELIVER,
    "rfc4475/intmeth.dat": 501,
    "rfc4475/esc01.dat": DELIVER,
    "rfc4475/escnull.dat": DELIVER,
    "rfc4475/esc02.dat": 501,
    "rfc4475/lwsdisp.dat": 200,
    "rfc4475/longreq.dat": DELIVER,
    "rfc4475/dblreq.dat": DELIVER,
    "rfc4475/semiuri.dat": 200,
    "rfc4475/transports.dat": 200,
    "rfc4475/mpart01.dat": 501,  # parses (test_parse); MESSAGE is not handled, so 501 + Allow
    "rfc4475/unreason.dat": DROP,
    "rfc4475/noreason.dat": DROP,
    # §3.1.2 invalid
    "rfc4475/badinv01.dat": 400,
    "rfc4475/clerr.dat": 400,
    "rfc4475/ncl.dat": 400,
    "rfc4475/scalar02.dat": 400,
    "rfc4475/scalarlg.dat": DROP,
    "rfc4475/quotbal.dat": 400,
    "rfc4475/ltgtruri.dat": 400,
    "rfc4475/lwsruri.dat": 400,
    "rfc4475/lwsstart.dat": 400,
    "rfc4475/trws.dat": 400,
    "rfc4475/escruri.dat": 400,
    "rfc4475/baddate.dat": DELIVER,
    "rfc4475/regbadct.dat": 400,
    "rfc4475/badaspec.dat": 400,
    "rfc4475/baddn.dat": 400,
    "rfc4475/badvers.dat": 505,
    "rfc4475/mismatch01.dat": 400,
    "rfc4475/mismatch02.dat": 400,
    "rfc4475/bigcode.dat": DROP,
    # §3.2 transaction, §3.3 semantic, §3.4 compat
    "rfc4475/badbranch.dat": 200,
    "rfc4475/insuf.dat": 400,
    "rfc4475/unkscm.dat": 416,
    "rfc4475/novelsc.dat": 416,
    "rfc4475/unksm2.dat": DELIVER,
    "rfc4475/bext01.dat": 420,
    "rfc4475/invut.dat": 415,
    "rfc4475/regaut01.dat": DELIVER,
    "rfc4475/multi01.dat": 400,
    "rfc4475/mcl01.dat": 400,
    "rfc4475/bcast.dat": DROP,
    "rfc4475/zeromf.dat": 200,
    "rfc4475/cparam01.dat": DELIVER,
    "rfc4475/cparam02.dat": DELIVER,
    "rfc4475/regescrt.dat": DELIVER,
    "rfc4475/sdp01.dat": 406,
    "rfc4475/inv2543.dat": DELIVER,
    # RFC 5118
    "rfc5118/ipv6-good": DELIVER,
    "rfc5118/ipv6-bad": 400,
    "rfc5118/port-ambiguous": DELIVER,
    "rfc5118/port-unambiguous": DELIVER,
    "rfc5118/via-received-param-with-delim": DELIVER,
    "rfc5118/via-received-param-no-delim": 200,
    "rfc5118/ipv4-mapped-ipv6": DELIVER,
    "rfc5118/mult-ip-in-header": DELIVER,
    "rfc5118/mult-ip-in-sdp": DELIVER,
    "rfc5118/ipv6-in-sdp": DELIVER,
    "rfc5118/ipv6-correct-abnf-2-colons": 200,
    "rfc5118/ipv6-bug-abnf-3-colons": 400,
}
# Registrar decisions (401 challenge, rejecting odd schemes) belong to the TU.
TU_DECIDES = {"rfc4475/regaut01.dat", "rfc4475/unksm2.dat"}
# Where the manifest and the RFC disagree: scalarlg is a *response* (RFC 4475
# §3.1.2.5); nobody can answer a response with 400, it is discarded.
# mpart01 is a MESSAGE: it is accepted as a message (test_parse reads its multipart
# body), and a UAS that does not implement MESSAGE answers 501 (RFC 3261 §8.2.1).
RFC_OVERRIDES = {"rfc4475/scalarlg.dat", "rfc4475/mpart01.dat"}


def _files() -> list[str]:
    if not CONFORMANCE.is_dir():
        return sorted(EXPECTED)
    found = [p for d in ("rfc4475", "rfc5118") for p in (CONFORMANCE / d).iterdir()]
    return sorted(f"{p.parent.name}/{p.name}" for p in found if p.name != "MANIFEST.tsv")


def _manifest() -> dict[str, dict[str, str]]:
    with (CONFORMANCE / "rfc4475" / "MANIFEST.tsv").open() as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def test_every_file_has_an_expectation() -> None:
    assert set(_files()) == set(EXPECTED)


def test_expectations_agree_with_the_manifest() -> None:
    for name, row in _manifest().items():
        expected = EXPECTED[f"rfc4475/{name}"]
        text = row["expected_of_a_uas"]
        if f"rfc4475/{name}" in RFC_OVERRIDES:
            continue
        if isinstance(expected, int) and expected != 200:
            assert str(expected) in text, name
        elif row["class"] == "invalid" and expected != DROP:
            assert "accept" in text, name
        elif f"rfc4475/{name}" not in TU_DECIDES:
            assert "accept" in text or "process" in text or "drop" in text, name


@pytest.mark.parametrize("name", _files())
def test_parser(name: str) -> None:
    data = (CONFORMANCE / name).read_bytes()
    expected = EXPECTED[name]
    try:
        message = parse_message(data)
    except SipMessageError as exc:
        assert expected not in (DELIVER, 200, 406, 415, 420, 501), f"{name}: {exc}"
        if isinstance(expected, int):
            assert exc.status == expected
            assert isinstance(exc.partial, Request)
        return
    assert expected not in (400, 416, 505), name
    assert bytes(parse_message(bytes(message))) == bytes(message)


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
@pytest.mark.parametrize("name", _files())
def test_endpoint(name: str, transport: str) -> None:
    endpoint = SipEndpoint()
    source = ("192.0.2.99", 5099)
    endpoint.receive((CONFORMANCE / name).read_bytes(), source, transport, 0.0)
    events = endpoint.events()
    statuses = [_status(data) for data, _, _ in endpoint.outgoing()]
    expected = EXPECTED[name]
    delivered = [e for e in events if isinstance(e, RequestReceived)]
    if expected == DELIVER:
        assert len(delivered) == 1 and statuses == [], (name, events, statuses)
        _check_sdp(delivered[0].request)
    elif expected == DROP:
        assert statuses == [] and delivered == []
    else:
        assert statuses == [expected], (name, events)
        assert delivered == []
        assert all(isinstance(e, BadMessage) for e in events)
    endpoint.handle_timers(100.0)
    assert endpoint.next_timer() is None or expected == DELIVER


def _status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def _check_sdp(request: Request) -> None:
    if request.headers.get("Content-Type") == "application/sdp" and request.body:
        with contextlib.suppress(SipParseError):
            parse_sdp(request.body)


def test_dblreq_keeps_only_the_first_message() -> None:
    message = parse_message((CONFORMANCE / "rfc4475/dblreq.dat").read_bytes())
    assert isinstance(message, Request)
    assert message.method == "REGISTER" and message.body == b""


def test_wsinv_values() -> None:
    message = parse_message((CONFORMANCE / "rfc4475/wsinv.dat").read_bytes())
    assert isinstance(message, Request)
    assert message.to_addr.tag == "1918181833n"
    assert message.from_addr.display_name == 'J Rosenberg \\"'
    assert message.from_addr.tag == "98asjd8"
    assert [v.host for v in message.vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert message.cseq.seq == 9
    assert message.contacts[0].params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}


def test_esc01_user_is_percent_decoded() -> None:
    message = parse_message((CONFORMANCE / "rfc4475/esc01.dat").read_bytes())
    assert isinstance(message, Request)
    assert message.sip_uri.user == "sips:user@example.com"


def test_ipv6_hosts() -> None:
    ambiguous = parse_message((CONFORMANCE / "rfc5118/port-ambiguous").read_bytes())
    assert isinstance(ambiguous, Request)
    assert (ambiguous.sip_uri.host, ambiguous.sip_uri.port) == ("2001:db8::10:5070", None)
    explicit = parse_message((CONFORMANCE / "rfc5118/port-unambiguous").read_bytes())
    assert isinstance(explicit, Request)
    assert (explicit.sip_uri.host, explicit.sip_uri.port) == ("2001:db8::10", 5070)
