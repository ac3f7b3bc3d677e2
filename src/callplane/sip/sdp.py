"""Minimal SDP (RFC 4566) offer parsing and G.711 answer building (RFC 3264).

Only what a G.711 voice endpoint needs: the audio stream's address, port,
payload types with their rtpmap, and direction. Other media are kept so the
answer can reject them with port 0, as RFC 3264 §6 requires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from callplane.errors import SipParseError

STATIC_PAYLOADS: dict[int, str] = {0: "PCMU/8000", 3: "GSM/8000", 8: "PCMA/8000", 9: "G722/8000"}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
PREFERRED = ("PCMU/8000", "PCMA/8000")


@dataclass(slots=True)
class MediaDescription:
    media: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    rtpmap: dict[int, str] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    direction: str = "sendrecv"
    ptime: int | None = None

    def codec(self, payload_type: int) -> str | None:
        """``PCMU/8000``-style name of a payload type (rtpmap or static table)."""
        return self.rtpmap.get(payload_type) or STATIC_PAYLOADS.get(payload_type)


@dataclass(slots=True)
class SessionDescription:
    origin: str
    connection: str | None
    media: list[MediaDescription]
    direction: str = "sendrecv"

    @property
    def audio(self) -> MediaDescription | None:
        return next((m for m in self.media if m.media == "audio" and m.port), None)

    def audio_address(self) -> tuple[str, int] | None:
        """Where to send RTP: the audio connection address (or session one) and port."""
        audio = self.audio
        host = audio and (audio.connection or self.connection)
        if audio is None or not host:
            return None
        return host, audio.port


def parse_sdp(body: bytes) -> SessionDescription:
    """Parse an SDP body; raise SipParseError when it is not SDP."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("SDP is not UTF-8") from exc
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or not lines[0].startswith("v="):
        raise SipParseError("SDP must start with v=")
    session = SessionDescription(origin="", connection=None, media=[])
    for line in lines:
        _apply_line(session, line)
    return session


def _apply_line(session: SessionDescription, line: str) -> None:
    kind, eq, value = line.partition("=")
    if not eq or len(kind) != 1 or not kind.isalpha():
        raise SipParseError(f"bad SDP line {line[:40]!r}")
    current = session.media[-1] if session.media else None
    if kind == "o":
        session.origin = value
    elif kind == "c":
        address = _connection(value)
        if current is None:
            session.connection = address
        else:
            current.connection = address
    elif kind == "m":
        session.media.append(_media(value, session.direction))
    elif kind == "a":
        _attribute(session, current, value)


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SipParseError(f"bad SDP connection {value!r}")
    return parts[2].split("/")[0]


def _media(value: str, direction: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
        raise SipParseError(f"bad SDP media line {value!r}")
    port = int(parts[1].split("/")[0])
    if port > 65535:
        raise SipParseError(f"bad SDP port {port}")
    return MediaDescription(parts[0], port, parts[2], parts[3:], direction=direction)


def _attribute(session: SessionDescription, media: MediaDescription | None, value: str) -> None:
    name, _, rest = value.partition(":")
    if name in DIRECTIONS:
        if media is None:
            session.direction = name
        else:
            media.direction = name
    elif media is not None and name in ("rtpmap", "fmtp"):
        pt, _, params = rest.partition(" ")
        if not pt.isdigit():
            raise SipParseError(f"bad SDP attribute {value!r}")
        table = media.rtpmap if name == "rtpmap" else media.fmtp
        table[int(pt)] = params.strip()
    elif media is not None and name == "ptime" and rest.strip().isdigit():
        media.ptime = int(rest)


@dataclass(slots=True, frozen=True)
class Answer:
    """The chosen codec and the answer SDP body."""

    payload_type: int
    codec: str
    telephone_event: int | None
    remote: tuple[str, int]
    direction: str
    body: bytes


def build_answer(
    offer: SessionDescription,
    local_ip: str,
    rtp_port: int,
    *,
    session_id: int | None = None,
    preferred: tuple[str, ...] = PREFERRED,
) -> Answer | None:
    """Answer the offer's audio with PCMU/PCMA (+ telephone-event); None -> send 488."""
    audio = offer.audio
    remote = offer.audio_address()
    if audio is None or remote is None or not audio.proto.startswith("RTP/"):
        return None
    chosen = _choose(audio, preferred)
    if chosen is None:
        return None
    pt, codec = chosen
    dtmf = _telephone_event(audio)
    direction = ANSWER_DIRECTION[offer_direction(offer)]
    body = _answer_body(offer, audio, local_ip, rtp_port, pt, codec, dtmf, direction, session_id)
    return Answer(pt, codec, dtmf, remote, direction, body)


def _choose(audio: MediaDescription, preferred: tuple[str, ...]) -> tuple[int, str] | None:
    offered = [(int(f), (audio.codec(int(f)) or "").upper()) for f in audio.formats if f.isdigit()]
    for pt, codec in offered:
        if codec in preferred:
            return pt, codec
    return None


def _telephone_event(audio: MediaDescription) -> int | None:
    for pt, codec in audio.rtpmap.items():
        if codec.lower().startswith("telephone-event/8000") and str(pt) in audio.formats:
            return pt
    return None


def _answer_body(
    offer: SessionDescription,
    audio: MediaDescription,
    local_ip: str,
    rtp_port: int,
    pt: int,
    codec: str,
    dtmf: int | None,
    direction: str,
    session_id: int | None,
) -> bytes:
    sid = session_id if session_id is not None else int(time.time())
    family = "IP6" if ":" in local_ip else "IP4"
    formats = [str(pt)] + ([str(dtmf)] if dtmf is not None else [])
    lines = [
        "v=0",
        f"o=Callplane {sid} {sid} IN {family} {local_ip}",
        "s=Callplane",
        f"c=IN {family} {local_ip}",
        "t=0 0",
    ]
    for media in offer.media:
        if media is not audio:
            lines.append(f"m={media.media} 0 {media.proto} {' '.join(media.formats)}")
            continue
        lines.append(f"m=audio {rtp_port} {audio.proto} {' '.join(formats)}")
        lines.append(f"a=rtpmap:{pt} {codec}")
        if dtmf is not None:
            lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
        lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


OFFER_TELEPHONE_EVENT = 101


def build_offer(local_ip: str, rtp_port: int, *, session_id: int | None = None) -> bytes:
    """Our offer, for an INVITE that came without SDP (the answer comes in the ACK)."""
    sid = session_id if session_id is not None else int(time.time())
    family = "IP6" if ":" in local_ip else "IP4"
    te = OFFER_TELEPHONE_EVENT
    lines = [
        "v=0",
        f"o=Callplane {sid} {sid} IN {family} {local_ip}",
        "s=Callplane",
        f"c=IN {family} {local_ip}",
        "t=0 0",
        f"m=audio {rtp_port} RTP/AVP 0 8 {te}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        f"a=rtpmap:{te} telephone-event/8000",
        f"a=fmtp:{te} 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def read_answer(answer: SessionDescription) -> Answer | None:
    """The codec the peer chose in its answer to ``build_offer``; None if unusable."""
    audio = answer.audio
    remote = answer.audio_address()
    if audio is None or remote is None:
        return None
    chosen = _choose(audio, PREFERRED)
    if chosen is None:
        return None
    direction = ANSWER_DIRECTION[audio.direction]
    return Answer(chosen[0], chosen[1], _telephone_event(audio), remote, direction, b"")


# -- re-offers: hold and resume (RFC 3264 §8.4) -------------------------------------------

NULL_ADDRESSES = frozenset({"0.0.0.0", "::"})


def offer_direction(offer: SessionDescription) -> str:
    """The audio direction an offer asks for; RFC 2543's ``c=0.0.0.0`` hold means
    "send me nothing", read as ``sendonly`` (or ``inactive`` if it also sends nothing)."""
    audio = offer.audio
    if audio is None:
        return "inactive"
    address = audio.connection or offer.connection
    if address in NULL_ADDRESSES:
        return "sendonly" if audio.direction in ("sendrecv", "sendonly") else "inactive"
    return audio.direction


def sends(direction: str) -> bool:
    """Whether our side sends media with ``direction`` in our SDP."""
    return direction in ("sendrecv", "sendonly")
