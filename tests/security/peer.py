"""A raw UDP SIP peer with its own loopback source address (127.0.0.x), for probing
`callplane serve` the way a scanner or a phone would: one request at a time, each
answered by its final response (matched by Via branch), INVITE refusals ACKed."""

from __future__ import annotations

import dataclasses
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from callplane.sip.auth import (
    Credentials,
    answer,
    compute_ha1,
    pick_challenge,
    request_digest,
)
from callplane.sip.message import Request, Response, parse_message

SDP = (
    "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class SipPeer:
    def __init__(self, ip: str, server_port: int) -> None:
        self.ip = ip
        self.server = ("127.0.0.1", server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.port = self.sock.getsockname()[1]
        self.cseq = 1
        self.call_id = f"{secrets.token_hex(8)}@{ip}"

    def close(self) -> None:
        self.sock.close()

    def build(
        self,
        method: str,
        user: str,
        *,
        from_user: str,
        headers: tuple[tuple[str, str], ...] = (),
        new_call: bool = False,
    ) -> Request:
        """``method`` to ``sip:user@server``, From ``from_user``; a new CSeq (and Call-ID
        when ``new_call``), a new Via branch."""
        if new_call:
            self.call_id = f"{secrets.token_hex(8)}@{self.ip}"
        self.cseq += 1
        host = f"127.0.0.1:{self.server[1]}"
        target = f"sip:{host}" if method == "REGISTER" else f"sip:{user}@{host}"
        body = SDP.format(ip=self.ip).encode() if method == "INVITE" else b""
        lines = [
            f"{method} {target} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{from_user}@{self.ip}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{user}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{from_user}@{self.ip}:{self.port}>",
            *(f"{name}: {value}" for name, value in headers),
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        assert isinstance(message, Request)
        return message

    def send(self, request: Request, timeout: float = 5.0) -> Response | None:
        """The final response to ``request`` (None: no answer within ``timeout``)."""
        self.sock.sendto(bytes(request), self.server)
        deadline = time.monotonic() + timeout  # retransmitted earlier responses do not extend it
        branch = request.top_via.branch
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                message = parse_message(self.sock.recv(65535))
            except TimeoutError:
                return None
            if not isinstance(message, Response) or message.top_via.branch != branch:
                continue
            if message.status < 200:
                continue
            if request.method == "INVITE" and message.status >= 300:
                self.sock.sendto(bytes(self.ack(request, message)), self.server)
            return message

    def ack(self, invite: Request, response: Response) -> Request:
        headers = [
            f"ACK {invite.uri} SIP/2.0",
            f"Via: {invite.headers.get('Via')}",
            "Max-Forwards: 70",
            f"From: {invite.headers.get('From')}",
            f"To: {response.headers.get('To')}",
            f"Call-ID: {invite.call_id}",
            f"CSeq: {invite.cseq.seq} ACK",
            "Content-Length: 0",
        ]
        message = parse_message(("\r\n".join(headers) + "\r\n\r\n").encode())
        assert isinstance(message, Request)
        return message

    def credentials(self, challenged: Response, request: Request, user: str, password: str) -> str:
        challenge = pick_challenge(challenged)
        assert challenge is not None, challenged
        return str(answer(challenge, request.method, request.uri, user, password))

    def register(self, user: str, password: str) -> Response | None:
        """REGISTER as ``user``, answering one challenge; the final response."""
        first = self.send(self.build("REGISTER", user, from_user=user))
        if first is None or first.status != 401:
            return first
        request = self.build("REGISTER", user, from_user=user)
        authorization = self.credentials(first, request, user, password)
        return self.send(
            self.build(
                "REGISTER", user, from_user=user, headers=(("Authorization", authorization),)
            )
        )

    def invite(self, user: str, from_user: str) -> Response | None:
        return self.send(self.build("INVITE", user, from_user=from_user, new_call=True))


def with_nc(authorization: str, nc: int, password: str, method: str = "REGISTER") -> str:
    """The same credentials (nonce, cnonce, uri) with nonce-count ``nc``, recomputed."""
    old = Credentials.parse(authorization)
    ha1 = compute_ha1(old.algorithm, old.username, old.realm, password)
    count = f"{nc:08x}"
    response = request_digest(
        old.algorithm,
        ha1,
        method=method,
        uri=old.uri,
        nonce=old.nonce,
        qop=old.qop,
        nc=count,
        cnonce=old.cnonce,
    )
    return str(dataclasses.replace(old, nc=count, response=response))


@contextmanager
def peer(ip: str, server_port: int) -> Iterator[SipPeer]:
    sip = SipPeer(ip, server_port)
    try:
        yield sip
    finally:
        sip.close()
