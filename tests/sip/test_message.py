from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callplane.errors import SipParseError
from callplane.sip.headers import Headers, split_commas
from callplane.sip.message import (
    REASONS,
    CSeq,
    Request,
    Response,
    SipMessageError,
    build_response,
    parse_cseq,
    parse_message,
    parse_via,
)
from callplane.sip.uri import NameAddr, SipUri, parse_name_addr
from tests.sip.messages import SDP, invite, request


def test_request_round_trip_is_byte_exact() -> None:
    data = invite()
    message = parse_message(data)
    assert isinstance(message, Request)
    assert bytes(message) == data
    assert message.body == SDP


def test_response_round_trip_is_byte_exact() -> None:
    data = (
        b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert isinstance(message, Response)
    assert (message.status, message.reason) == (486, "Busy Here")
    assert bytes(message) == data


def test_bytes_always_writes_the_real_content_length() -> None:
    message = parse_message(invite())
    message.body = b"v=0\r\n"
    message.headers.add("Content-Length", "999")
    assert b"Content-Length: 5\r\n\r\nv=0\r\n" in bytes(message)
    assert bytes(message).count(b"Content-Length") == 1


def test_content_length_added_when_missing() -> None:
    req = Request("OPTIONS", "sip:a@b", Headers([("Call-ID", "x")]))
    assert bytes(req).endswith(b"Call-ID: x\r\nContent-Length: 0\r\n\r\n")


def test_compact_forms_are_normalised() -> None:
    data = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"f: <sip:b@example.com>;tag=1\r\nt: sip:a@example.com\r\ni: abc\r\n"
        b"CSeq: 1 OPTIONS\r\nm: <sip:b@h>\r\nk: timer\r\nc: text/plain\r\nl: 0\r\n\r\n"
    )
    message = parse_message(data)
    names = [name for name, _ in message.headers]
    assert names == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Supported",
        "Content-Type",
        "Content-Length",
    ]
    assert message.headers.get("call-id") == "abc"
    assert message.headers.get("I") == "abc"


def test_folded_header_lines_are_unfolded() -> None:
    data = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:b@example.com>;tag=1\r\nTo: sip:a@example.com\r\nCall-ID: abc\r\n"
        b"CSeq: 1 OPTIONS\r\nSubject: first\r\n  second\r\n\tthird\r\nl: 0\r\n\r\n"
    )
    assert parse_message(data).headers.get("Subject") == "first second third"


def test_get_all_splits_list_headers_respecting_quotes_and_angles() -> None:
    headers = Headers(
        [
            ("Contact", '"Bell, Alexander" <sip:a@b;x=1,2>, <sip:c@d>'),
            ("Contact", "sip:e@f"),
            ("Allow", "INVITE, ACK,BYE"),
            ("Subject", "hello, world"),
        ]
    )
    assert headers.get_all("Contact") == [
        '"Bell, Alexander" <sip:a@b;x=1,2>',
        "<sip:c@d>",
        "sip:e@f",
    ]
    assert headers.get_all("allow") == ["INVITE", "ACK", "BYE"]
    assert headers.get_all("Subject") == ["hello, world"]
    assert headers.get("Contact") == '"Bell, Alexander" <sip:a@b;x=1,2>'


def test_headers_add_set_remove_keep_order() -> None:
    headers = Headers([("Via", "a"), ("To", "t"), ("Via", "b")])
    headers.set("via", "c")
    assert list(headers) == [("Via", "c"), ("To", "t")]
    headers.add("X-Custom", "1")
    headers.remove("TO")
    assert list(headers) == [("Via", "c"), ("X-Custom", "1")]
    assert "x-custom" in headers and "To" not in headers
    headers.replace_first("Via", "d")
    assert headers.get("Via") == "d"


def test_split_commas_handles_escaped_quotes() -> None:
    assert split_commas(r'"a \", b" <sip:x>, <sip:y>') == [r'"a \", b" <sip:x>', "<sip:y>"]


def test_parse_via() -> None:
    via = parse_via("SIP / 2.0 / UDP  [2001:db8::1]:5070 ; branch = z9hG4bKab ; rport")
    assert (via.transport, via.host, via.port) == ("UDP", "2001:db8::1", 5070)
    assert via.params == {"branch": "z9hG4bKab", "rport": None}
    assert via.branch == "z9hG4bKab"
    assert str(via) == "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKab;rport"


@pytest.mark.parametrize(
    "value", ["SIP/2.0/UDP", "SIP/2.0 UDP host", "SIP/2.0/UDP host:99999", "SIP/2.0/UDP h;;"]
)
def test_parse_via_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(value)


def test_parse_name_addr_forms() -> None:
    addr = parse_name_addr('"Alice \\"A\\"" <sip:alice@example.com:5080;transport=tcp>;tag=x')
    assert addr.display_name == 'Alice "A"'
    assert isinstance(addr.uri, SipUri)
    assert (addr.uri.user, addr.uri.host, addr.uri.port) == ("alice", "example.com", 5080)
    assert addr.uri.params == {"transport": "tcp"}
    assert addr.tag == "x"
    bare = parse_name_addr("sip:bob@example.com;tag=7")
    assert bare == NameAddr(None, SipUri("sip", "example.com", "bob"), {"tag": "7"})
    unquoted = parse_name_addr("Bob Smith <tel:+1555>")
    assert unquoted.display_name == "Bob Smith"
    assert parse_name_addr("<urn:service:sos>").uri == "urn:service:sos"


@pytest.mark.parametrize(
    "value",
    [
        '"unterminated <sip:a@b>',
        "Bell, Alexander <sip:a@b>",
        "< sip:a@b >",
        "sip:a@b?Route=x",
        "<sip:a@b>;;",
        "<sip:a@b",
    ],
)
def test_parse_name_addr_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_name_addr(value)


def test_sip_uri_parse() -> None:
    uri = SipUri.parse("sips:alice%40home:secret@[2001:db8::10]:5061;lr;maddr=x?Subject=hi&P=1")
    assert uri.scheme == "sips"
    assert (uri.user, uri.password) == ("alice@home", "secret")
    assert (uri.host, uri.port) == ("2001:db8::10", 5061)
    assert uri.params == {"lr": None, "maddr": "x"}
    assert uri.headers == {"Subject": "hi", "P": "1"}
    assert str(uri) == "sips:alice%40home:secret@[2001:db8::10]:5061;lr;maddr=x?Subject=hi&P=1"
    tel = SipUri.parse("tel:+15551234;phone-context=example.com")
    assert (tel.scheme, tel.user, tel.params) == (
        "tel",
        "+15551234",
        {"phone-context": "example.com"},
    )


@pytest.mark.parametrize("text", ["http://x", "sip:", "sip:a@", "sip:2001:db8::1", "sip:a b@c"])
def test_sip_uri_rejects(text: str) -> None:
    with pytest.raises(SipParseError):
        SipUri.parse(text)


def test_cseq() -> None:
    assert parse_cseq("0009 INVITE") == CSeq(9, "INVITE")
    for bad in ("-1 INVITE", "x INVITE", "1", "4294967296 INVITE"):
        with pytest.raises(SipParseError):
            parse_cseq(bad)


def _broken(data: bytes) -> SipMessageError:
    with pytest.raises(SipMessageError) as info:
        parse_message(data)
    return info.value


def test_errors_carry_status_and_partial() -> None:
    error = _broken(invite().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
    assert error.status == 505
    assert isinstance(error.partial, Request)
    assert error.partial.call_id == "call-1@192.0.2.10"
    assert _broken(invite().replace(b"INVITE sip:", b"INVITE xyz:", 1)).status == 416
    assert _broken(invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")).status == 400
    assert _broken(invite().replace(b"INVITE sip", b"INVITE  sip", 1)).status == 400


def test_content_length_validation() -> None:
    assert _broken(invite().replace(b"Content-Length: 207", b"Content-Length: 208")).partial
    assert _broken(invite().replace(b"Content-Length: 207", b"Content-Length: -1")).partial
    shorter = parse_message(invite().replace(b"Content-Length: 207", b"Content-Length: 4"))
    assert shorter.body == b"v=0\r"


def test_missing_mandatory_header() -> None:
    error = _broken(invite().replace(b"Call-ID: call-1@192.0.2.10\r\n", b""))
    assert "Call-ID" in str(error)
    assert error.partial is not None


def test_garbage_has_no_partial() -> None:
    assert _broken(b"hello\r\n\r\n").partial is None
    assert _broken(b"").partial is None


def test_build_response_copies_dialog_headers() -> None:
    data = invite().replace(
        b"Max-Forwards", b"Via: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\nMax-Forwards"
    )
    req = parse_message(data)
    assert isinstance(req, Request)
    response = build_response(req, 603, to_tag="t1", headers=[("Reason", "Q.850;cause=21")])
    assert (response.status, response.reason) == (603, "Decline")
    assert response.headers.lines("Via") == req.headers.lines("Via")
    assert response.to_addr.tag == "t1"
    assert response.from_addr.tag == "a1"
    assert response.call_id == req.call_id
    assert response.cseq == CSeq(1, "INVITE")
    assert response.headers.get("Reason") == "Q.850;cause=21"
    assert "Contact" not in response.headers
    assert parse_message(bytes(response)).to_addr.tag == "t1"


def test_build_response_keeps_existing_to_tag() -> None:
    req = parse_message(request("BYE", to_tag="mine"))
    assert isinstance(req, Request)
    assert build_response(req, 200, to_tag="other").to_addr.tag == "mine"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (433, "Anonymity Disallowed"),
        (484, "Address Incomplete"),
        (607, "Unwanted"),
        (603, "Decline"),
        (486, "Busy Here"),
        (487, "Request Terminated"),
        (488, "Not Acceptable Here"),
        (500, "Server Internal Error"),
        (501, "Not Implemented"),
        (503, "Service Unavailable"),
        (505, "Version Not Supported"),
        (416, "Unsupported URI Scheme"),
    ],
)
def test_reason_phrases(status: int, reason: str) -> None:
    assert REASONS[status] == reason


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_message(data)


_LINES = [
    b"INVITE sip:a@b SIP/2.0",
    b"SIP/2.0 200 OK",
    b"Via: SIP/2.0/UDP h;branch=z9hG4bK1",
    b"From: <sip:a@b>;tag=1",
    b"To: sip:c@d",
    b"Call-ID: x",
    b"CSeq: 1 INVITE",
    b"Content-Length: 3",
    b'Contact: "x" <sip:a@[::1]:5>',
    b" folded",
    b"l: 99",
    b"",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=12), st.binary(max_size=20))
def test_fuzz_structured_messages(lines: list[bytes], tail: bytes) -> None:
    try:
        message = parse_message(b"\r\n".join(lines) + b"\r\n\r\n" + tail)
    except SipParseError:
        return
    parse_message(bytes(message))


def test_dialog_creating_responses_copy_record_route_in_order() -> None:
    """§12.1.1: a proxy that record-routes (Kamailio) must see the dialog's requests."""
    routes = "Record-Route: <sip:10.0.0.1;lr;ftag=a>\r\nRecord-Route: <sip:10.0.0.2;lr>\r\n"
    message = parse_message(invite(extra=routes))
    assert isinstance(message, Request)
    for status in (180, 200):
        response = build_response(message, status, to_tag="t")
        assert response.headers.get_all("Record-Route") == [
            "<sip:10.0.0.1;lr;ftag=a>",
            "<sip:10.0.0.2;lr>",
        ]
    for status in (100, 486):
        assert build_response(message, status, to_tag="t").headers.get_all("Record-Route") == []
