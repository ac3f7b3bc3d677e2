"""Hand-built SIP messages shared by the tests."""

from __future__ import annotations

SDP = (
    b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)


def invite(
    branch: str = "z9hG4bK-inv-1",
    call_id: str = "call-1@192.0.2.10",
    cseq: int = 1,
    host: str = "192.0.2.10",
    port: int = 5060,
    transport: str = "UDP",
    extra: str = "",
    body: bytes = SDP,
) -> bytes:
    head = (
        "INVITE sip:+15551234567@192.0.2.20 SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"Contact: <sip:alice@{host}:{port}>\r\n"
        "To: <sip:+15551234567@192.0.2.20>\r\n"
        'From: "Alice" <sip:alice@example.com>;tag=a1\r\n'
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} INVITE\r\n"
        "Content-Type: application/sdp\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def request(
    method: str,
    branch: str = "z9hG4bK-req-1",
    call_id: str = "call-1@192.0.2.10",
    cseq: int = 1,
    to_tag: str | None = None,
    extra: str = "",
    host: str = "192.0.2.10",
    port: int = 5060,
) -> bytes:
    to = "<sip:+15551234567@192.0.2.20>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:+15551234567@192.0.2.20 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"To: {to}\r\n"
        'From: "Alice" <sip:alice@example.com>;tag=a1\r\n'
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()
