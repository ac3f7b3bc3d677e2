"""RTP as it leaves callplane serve, measured on the wire by a bare UDP caller:
steady 20 ms pacing with no drift and no bursts, correct sequence/timestamps."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.interop.harness import CallplaneServer, WebhookServer, sipp

SECONDS = 30


def invite(call_id: str, sip_port: int, rtp_port: int, local: int, number: str) -> bytes:
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\n"
    )
    return (
        f"INVITE sip:{number}@127.0.0.1:{sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{call_id[:8]};rport\r\n"
        f"From: <sip:14155550100@127.0.0.1>;tag=pace\r\nTo: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:pace@127.0.0.1:{local}>\r\n"
        f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def ack_for(response: bytes, sip_port: int, number: str, local: int) -> bytes:
    head = response.split(b"\r\n\r\n")[0].decode().split("\r\n")
    keep = [h for h in head[1:] if h.split(":")[0].lower() in ("from", "to", "call-id")]
    return (
        f"ACK sip:{number}@127.0.0.1:{sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKack{time.monotonic_ns()}\r\n"
        + "\r\n".join(keep)
        + "\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python names it only on 3.12+


@pytest.mark.serial
def test_thirty_seconds_of_rtp_are_paced_without_drift_or_bursts(
    callplane: CallplaneServer, web: WebhookServer
) -> None:
    number = "15553330001"
    document = '<Response><Speak loop="0">Steady pacing test.</Speak></Response>'
    callplane.number(number, callplane.application(web.set("/pace", document)))
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    rtp.bind(("127.0.0.1", 0))
    sip.settimeout(10)
    rtp.settimeout(5)
    # Arrival times from the kernel: on a busy machine this test may read late, and
    # packets read together would look like a burst the server never sent.
    rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    local, rtp_port = sip.getsockname()[1], rtp.getsockname()[1]
    sip.sendto(
        invite(str(uuid.uuid4()), callplane.sip_port, rtp_port, local, number),
        ("127.0.0.1", callplane.sip_port),
    )
    while not (response := sip.recv(65535)).startswith(b"SIP/2.0 200"):
        assert response.startswith(b"SIP/2.0 1"), response
    sip.sendto(
        ack_for(response, callplane.sip_port, number, local), ("127.0.0.1", callplane.sip_port)
    )
    arrivals: list[tuple[float, int, int, int]] = []
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        packet, ancillary, _, _ = rtp.recvmsg(2048, socket.CMSG_SPACE(16))
        seq, ts, ssrc = struct.unpack("!HII", packet[2:12])
        arrivals.append((_kernel_time(ancillary), seq, ts, ssrc))
    sip.close()
    rtp.close()

    times = np.array([a[0] for a in arrivals])
    seqs = np.array([a[1] for a in arrivals], dtype=np.int64)
    stamps = np.array([a[2] for a in arrivals], dtype=np.int64)
    assert len({a[3] for a in arrivals}) == 1  # one SSRC
    assert np.all(np.diff(seqs) % 65536 == 1)  # no gaps, no reordering
    assert np.all(np.diff(stamps) % 2**32 == 160)  # 20 ms of PCMU each
    assert abs(len(arrivals) - SECONDS * 50) <= 50  # ~50 packets/s
    # Drift: arrival time against the RTP clock stays put over the whole 30 s.
    offset = times - (stamps - stamps[0]) / 8000
    offset -= offset[:50].mean()
    assert np.abs(offset[-50:].mean()) < 0.03
    # Bursts: nearly every packet follows the previous one by about 20 ms.
    gaps = np.diff(times)
    assert np.percentile(gaps, 1) > 0.005 and np.percentile(gaps, 99) < 0.045


def test_garbage_sdp_is_refused_488_when_answering(
    callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    callplane.number(
        "15553330002",
        callplane.application(web.set("/garbage-sdp", "<Response><Speak>Hi</Speak></Response>")),
    )
    result = sipp(tmp_path, "uac_bad_sdp.xml", callplane.sip_port, to="15553330002", code=488)
    assert result.returncode == 0, result.output


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The SO_TIMESTAMPNS arrival time of a datagram, in seconds."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    raise AssertionError("no kernel timestamp on the RTP packet")
