"""Hold and resume in SDP offers (RFC 3264 §8.4, RFC 2543's c=0.0.0.0) and our answers."""

from __future__ import annotations

import pytest

from callplane.sip.sdp import build_answer, offer_direction, parse_sdp, read_answer, sends


def offer(direction: str | None, address: str = "192.0.2.10") -> bytes:
    lines = [
        "v=0",
        f"o=phone 1 2 IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
    ]
    if direction:
        lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(
    ("direction", "address", "asked", "answered"),
    [
        (None, "192.0.2.10", "sendrecv", "sendrecv"),
        ("sendrecv", "192.0.2.10", "sendrecv", "sendrecv"),
        ("sendonly", "192.0.2.10", "sendonly", "recvonly"),
        ("inactive", "192.0.2.10", "inactive", "inactive"),
        ("recvonly", "192.0.2.10", "recvonly", "sendonly"),
        (None, "0.0.0.0", "sendonly", "recvonly"),
        ("sendonly", "0.0.0.0", "sendonly", "recvonly"),
        ("recvonly", "0.0.0.0", "inactive", "inactive"),
        ("inactive", "0.0.0.0", "inactive", "inactive"),
    ],
)
def test_the_answer_mirrors_the_direction_the_offer_asks_for(
    direction: str | None, address: str, asked: str, answered: str
) -> None:
    parsed = parse_sdp(offer(direction, address))
    assert offer_direction(parsed) == asked
    answer = build_answer(parsed, "127.0.0.1", 30000, session_id=7)
    assert answer is not None and answer.direction == answered
    assert f"a={answered}\r\n".encode() in answer.body


@pytest.mark.parametrize(
    ("direction", "we_send"),
    [("sendrecv", True), ("sendonly", True), ("recvonly", False), ("inactive", False)],
)
def test_we_send_only_where_our_direction_allows(direction: str, we_send: bool) -> None:
    assert sends(direction) is we_send


def test_a_held_answer_from_the_callee_stops_our_sending() -> None:
    answer = read_answer(parse_sdp(offer("sendonly")))
    assert answer is not None and not sends(answer.direction)


def test_an_offer_without_audio_is_inactive() -> None:
    body = b"v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    assert offer_direction(parse_sdp(body)) == "inactive"
