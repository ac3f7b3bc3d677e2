"""The WebSocket messages of a ``<Stream>``, as Plivo and Twilio define them.

To the agent: ``start``, ``media`` (base64 audio, track, timestamp in ms since
the stream started, chunk number), ``dtmf``, the answer to a mark, ``stop``;
Twilio also opens with ``connected`` and numbers every message
(``sequenceNumber``). From the agent, :func:`parse` turns either protocol's
messages into one :data:`Command`: :class:`PlayAudio` (Plivo ``playAudio``,
Twilio ``media``), :class:`Mark` (``checkpoint``, ``mark``), :class:`Clear`
(``clearAudio``, ``clear``). Anything else is a :class:`BadMessage` whose text
says what was wrong.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Any

import orjson

from callplane.media.stream_audio import AudioFormat

TWILIO_FORMAT = AudioFormat("audio/x-mulaw", 8000)  # Twilio's audio, both ways


class BadMessage(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PlayAudio:
    payload: bytes
    format: AudioFormat


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Clear:
    pass


Command = PlayAudio | Mark | Clear


@dataclass(frozen=True, slots=True)
class StreamInfo:
    stream_id: str
    call_id: str
    account_id: str
    tracks: tuple[str, ...]
    format: AudioFormat
    extra_headers: dict[str, str]
    parameters: dict[str, str]
    name: str


class Messages:
    """Builds one stream's outgoing messages for ``protocol`` (``plivo`` or ``twilio``)."""

    def __init__(self, protocol: str, info: StreamInfo) -> None:
        self.twilio = protocol == "twilio"
        self.info = info
        self._sequence = 0
        self._sid = json.dumps(info.stream_id)
        self._quoted_tracks = {track: json.dumps(track) for track in info.tracks}

    def _dump(self, message: dict[str, Any]) -> str:
        if self.twilio:
            self._sequence += 1
            message = {"event": message.pop("event"), "sequenceNumber": str(self._sequence)} | (
                message
            )
        return json.dumps(message, separators=(",", ":"))

    def opening(self) -> list[str]:
        info = self.info
        if self.twilio:
            connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            start = {
                "event": "start",
                "streamSid": info.stream_id,
                "start": {
                    "streamSid": info.stream_id,
                    "accountSid": info.account_id,
                    "callSid": info.call_id,
                    "tracks": [f"{track}_track" for track in info.tracks],
                    "customParameters": info.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
            return [connected, self._dump(start)]
        headers = ";".join(f"{k}={v}" for k, v in info.extra_headers.items())
        plivo_start: dict[str, Any] = {
            "event": "start",
            "sequenceNumber": 0,
            "start": {
                "streamId": info.stream_id,
                "callId": info.call_id,
                "accountId": info.account_id,
                "tracks": list(info.tracks),
                "mediaFormat": {"encoding": info.format.encoding, "sampleRate": info.format.rate},
            },
            "extra_headers": headers,
        }
        return [self._dump(plivo_start)]

    def media(self, track: str, payload: bytes, timestamp_ms: int, chunk: int) -> str:
        # 50 a second per track: formatted into a fixed shape (what json.dumps would give,
        # the strings quoted by it once) instead of building and dumping dicts each time
        encoded = binascii.b2a_base64(payload, newline=False).decode("ascii")
        quoted = self._quoted_tracks.get(track) or json.dumps(track)
        if self.twilio:
            self._sequence += 1
            return (
                f'{{"event":"media","sequenceNumber":"{self._sequence}","streamSid":{self._sid},'
                f'"media":{{"track":{quoted},"chunk":"{chunk}","timestamp":"{timestamp_ms}",'
                f'"payload":"{encoded}"}}}}'
            )
        return (
            f'{{"event":"media","streamId":{self._sid},"media":{{"track":{quoted},'
            f'"timestamp":"{timestamp_ms}","chunk":{chunk},"payload":"{encoded}"}}}}'
        )

    def dtmf(self, digit: str) -> str:
        if self.twilio:
            body = {"track": "inbound_track", "digit": digit}
            return self._dump({"event": "dtmf", "streamSid": self.info.stream_id, "dtmf": body})
        return self._dump(
            {"event": "dtmf", "streamId": self.info.stream_id, "dtmf": {"digit": digit}}
        )

    def played(self, name: str) -> str:
        """The answer to a mark (Twilio) or checkpoint (Plivo ``playedStream``)."""
        if self.twilio:
            return self._dump(
                {"event": "mark", "streamSid": self.info.stream_id, "mark": {"name": name}}
            )
        return self._dump({"event": "playedStream", "streamId": self.info.stream_id, "name": name})

    def cleared(self) -> str | None:
        """Plivo confirms a ``clearAudio``; Twilio answers only the marks it dropped."""
        if self.twilio:
            return None
        return self._dump({"event": "clearedAudio", "streamId": self.info.stream_id})

    def stop(self) -> str:
        if self.twilio:
            body = {"accountSid": self.info.account_id, "callSid": self.info.call_id}
            return self._dump({"event": "stop", "streamSid": self.info.stream_id, "stop": body})
        return self._dump({"event": "stop", "streamId": self.info.stream_id})


def parse(raw: str | bytes, protocol: str, stream_format: AudioFormat) -> Command:
    """One message from the agent; BadMessage says why it cannot be used."""
    if isinstance(raw, bytes):
        raise BadMessage("binary message (JSON text expected)")
    try:
        message = orjson.loads(raw)  # one per message from the agent: about 3x json.loads
    except ValueError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise BadMessage("not a JSON object")
    event = message.get("event")
    if protocol == "twilio":
        return _twilio(event, message)
    return _plivo(event, message, stream_format)


def _twilio(event: object, message: dict[str, Any]) -> Command:
    if event == "media":
        return PlayAudio(_payload(_object(message, "media")), TWILIO_FORMAT)
    if event == "mark":
        return Mark(_name(_object(message, "mark")))
    if event == "clear":
        return Clear()
    raise BadMessage(f"unknown event {event!r}; expected media, mark, clear")


def _plivo(event: object, message: dict[str, Any], stream_format: AudioFormat) -> Command:
    if event == "playAudio":
        media = _object(message, "media")
        content_type = media.get("contentType", stream_format.encoding)
        rate = media.get("sampleRate", stream_format.rate)
        if not isinstance(content_type, str) or isinstance(rate, bool):
            raise BadMessage("contentType must be a string and sampleRate a number")
        try:
            fmt = AudioFormat(content_type, int(rate))
            fmt.check()
        except (TypeError, ValueError) as exc:
            raise BadMessage(str(exc)) from None
        return PlayAudio(_payload(media), fmt)
    if event == "checkpoint":
        return Mark(_name(message))
    if event == "clearAudio":
        return Clear()
    raise BadMessage(f"unknown event {event!r}; expected playAudio, checkpoint, clearAudio")


def _object(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise BadMessage(f"{key!r} must be a JSON object")
    return value


def _payload(media: dict[str, Any]) -> bytes:
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise BadMessage("payload must be a base64 string")
    try:
        return binascii.a2b_base64(payload, strict_mode=True)  # b64decode(validate=True), faster
    except (binascii.Error, ValueError):
        raise BadMessage("payload is not valid base64") from None


def _name(holder: dict[str, Any]) -> str:
    name = holder.get("name")
    if not isinstance(name, str) or len(name) > 256:
        raise BadMessage("name must be a string of at most 256 characters")
    return name
