from __future__ import annotations

import pytest

from callplane.errors import SipParseError
from callplane.sip.dialog import Dialog
from callplane.sip.framing import PING, FramingError, StreamFramer, error_response
from callplane.sip.message import Request, Response, build_response, parse_message
from callplane.sip.sdp import build_answer, parse_sdp
from tests.sip.messages import SDP, invite, request


def test_sdp_offer_and_answer() -> None:
    offer = parse_sdp(SDP)
    assert offer.audio_address() == ("192.0.2.10", 4000)
    assert offer.audio is not None and offer.audio.codec(101) == "telephone-event/8000"
    answer = build_answer(offer, "192.0.2.20", 20000, session_id=7)
    assert answer is not None
    assert (answer.payload_type, answer.codec, answer.telephone_event) == (8, "PCMA/8000", 101)
    text = answer.body.decode()
    assert "m=audio 20000 RTP/AVP 8 101\r\n" in text and "c=IN IP4 192.0.2.20" in text
    assert parse_sdp(answer.body).audio_address() == ("192.0.2.20", 20000)


def test_sdp_no_common_codec_and_rejected_streams() -> None:
    g729 = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    assert build_answer(parse_sdp(g729), "1.1.1.1", 2) is None
    both = SDP + b"m=video 3227 RTP/AVP 31\r\n"
    answer = build_answer(parse_sdp(both), "1.1.1.1", 2)
    assert answer is not None and b"m=video 0 RTP/AVP 31" in answer.body


def test_sdp_direction_is_mirrored() -> None:
    offer = parse_sdp(SDP.replace(b"a=sendrecv", b"a=sendonly"))
    answer = build_answer(offer, "1.1.1.1", 2)
    assert answer is not None and answer.direction == "recvonly"


@pytest.mark.parametrize("body", [b"", b"hello", b"v=0\r\nm=audio x RTP/AVP 0\r\n", b"\xff\xfe"])
def test_sdp_garbage(body: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_sdp(body)


def _invite() -> Request:
    data = invite().replace(
        b"Max-Forwards",
        b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\nMax-Forwards",
    )
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def test_uas_dialog_and_bye() -> None:
    dialog = Dialog.from_invite(_invite(), "ourtag")
    assert dialog.remote_target == "sip:alice@192.0.2.10:5060"
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    bye = dialog.create_request("BYE")
    assert bye.uri == "sip:alice@192.0.2.10:5060"
    assert bye.headers.get_all("Route") == dialog.route_set
    assert bye.from_addr.tag == "ourtag" and bye.to_addr.tag == "a1"
    assert bye.cseq.seq == 1 and bye.cseq.method == "BYE"
    assert dialog.next_hop() == ("p1.example.com", None, "UDP")


def test_dialog_matching_and_cseq() -> None:
    dialog = Dialog.from_invite(_invite(), "ourtag")
    bye = parse_message(request("BYE", to_tag="ourtag", cseq=2))
    other = parse_message(request("BYE", to_tag="else", cseq=2))
    assert isinstance(bye, Request) and isinstance(other, Request)
    assert dialog.matches(bye) and not dialog.matches(other)
    assert dialog.accept_cseq(bye) and not dialog.accept_cseq(bye)


def test_uac_dialog_from_response() -> None:
    inv = _invite()
    ok = build_response(inv, 200, to_tag="remote", headers=[("Contact", "<sip:b@192.0.2.30>")])
    ok.headers.add("Record-Route", "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>")
    dialog = Dialog.from_response(inv, ok)
    assert dialog.remote_tag == "remote" and dialog.local_tag == "a1"
    assert dialog.route_set[0] == "<sip:p1.example.com;lr>"
    ack = dialog.create_request("ACK")
    assert ack.cseq.seq == 1 and ack.uri == "sip:b@192.0.2.30"


def test_framer_splits_and_joins() -> None:
    one, two = invite(), request("BYE")
    framer = StreamFramer()
    assert framer.feed(b"\r\n" + one[:100]) == []
    assert framer.feed(one[100:] + two[:10]) == [one]
    assert framer.feed(two[10:] + two) == [two, two]
    assert framer.feed(b"\r\n\r\n") == [PING]


def test_framer_errors() -> None:
    missing = request("OPTIONS").replace(b"Content-Length: 0\r\n", b"")
    (error,) = StreamFramer().feed(missing)
    assert isinstance(error, FramingError) and error.status == 400
    answer = error_response(error)
    assert answer is not None
    response = parse_message(answer)
    assert isinstance(response, Response) and response.status == 400
    (big,) = StreamFramer(max_size=1000).feed(invite(body=b"x" * 2000)[:500])
    assert isinstance(big, FramingError) and big.status == 513
    framer = StreamFramer(max_size=100)
    (huge,) = framer.feed(b"A" * 200)
    assert isinstance(huge, FramingError) and error_response(huge) is None
    assert framer.feed(request("BYE")) == []
