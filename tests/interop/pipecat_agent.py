"""A voice agent built on pipecat-ai's own telephony code, unmodified: a real ``websockets``
server on 127.0.0.1 (in its own thread, like ``voice_agent.VoiceAgent``) whose handler
does what a pipecat bot's transport does with each connection.

``pipecat.runner.utils.parse_telephony_websocket`` reads the first messages and tells
which platform is calling (from our ``start`` message alone); the matching serializer
(``TwilioFrameSerializer`` or ``PlivoFrameSerializer``) turns every message into pipecat
frames and the agent's frames into messages. The agent echoes each
``InputAudioRawFrame`` back as an ``OutputAudioRawFrame`` until the caller presses a
key (an ``InputDTMFFrame``); then it sends a mark, plays ``reply_hz`` for
``reply_seconds``, a second mark, then ``cut_hz`` for 10 s, interrupts that after
``cut_after`` s (``InterruptionFrame``: Twilio ``clear``, Plivo ``clearAudio``), sends a
third mark and, once it is answered, ends: a Twilio bot's ``EndFrame`` hangs the call up
through the Twilio REST API at ``twilio_api`` (pipecat's ``base_url``); the Plivo
serializer can only reach api.plivo.com, so that agent closes the socket instead.

Marks are not pipecat frames: they go out as ``OutputTransportMessageFrame`` (which the
serializers pass through as JSON) and their answers, which the serializers drop, are
read from the raw message.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.utils.asyncio.task_manager import TaskManager
from websockets.asyncio.server import ServerConnection

from tests.interop.voice_agent import VoiceAgent, tone

RATE = 8000  # the pipeline's audio rate
CHUNK = RATE // 10  # the agent's own audio goes out in 100 ms frames


@dataclass
class PipecatSession:
    transport: str = ""  # what pipecat detected
    stream_id: str = ""  # from pipecat's call data
    call_id: str = ""
    heard: list[np.ndarray] = field(default_factory=list)  # InputAudioRawFrame audio
    digits: list[str] = field(default_factory=list)  # InputDTMFFrame buttons
    marks: list[str] = field(default_factory=list)  # answered marks, in arrival order
    cleared_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def heard_pcm(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)


class _Texts:
    """What ``parse_telephony_websocket`` needs of a FastAPI WebSocket, over a
    ``websockets`` connection: ``iter_text()``; keeps what it read."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.read: list[dict[str, Any]] = []

    async def iter_text(self) -> AsyncIterator[str]:
        async for message in self.ws:
            self.read.append(json.loads(message))
            yield str(message)


class PipecatAgent(VoiceAgent):
    def __init__(self, protocol: str, *, auth_token: str = "", twilio_api: str = "") -> None:
        super().__init__(protocol, reply_hz=1000, reply_seconds=1.0, cut_hz=1800, cut_after=0.5)
        self.auth_token = auth_token
        self.twilio_api = twilio_api
        self.pipecat_sessions: list[PipecatSession] = []

    def _serializer(self, session: PipecatSession, start: dict[str, Any]) -> FrameSerializer:
        """As a pipecat bot builds it from the runner's call data (and, for auto hang-up,
        the account SID from Twilio's ``start``)."""
        if session.transport == "twilio":
            return TwilioFrameSerializer(
                stream_sid=session.stream_id,
                call_sid=session.call_id,
                account_sid=start["start"]["accountSid"],
                auth_token=self.auth_token,
                base_url=self.twilio_api,
            )
        params = PlivoFrameSerializer.InputParams(auto_hang_up=False)
        return PlivoFrameSerializer(session.stream_id, session.call_id, params=params)

    async def _handle(self, ws: ServerConnection) -> None:
        session = PipecatSession()
        self.pipecat_sessions.append(session)
        answered: dict[str, asyncio.Event] = {}
        script: asyncio.Task[None] | None = None
        try:
            texts = _Texts(ws)
            session.transport, call_data = await parse_telephony_websocket(texts)
            session.stream_id = call_data.stream_id or ""
            session.call_id = call_data.call_id or ""
            (start,) = [m for m in texts.read if m.get("event") == "start"]
            serializer = self._serializer(session, start)
            setup = FrameProcessorSetup(
                clock=SystemClock(),
                task_manager=TaskManager(),
                pipeline_worker=cast(Any, None),  # the serializers read only the rates
                audio_in_sample_rate=RATE,
                audio_out_sample_rate=RATE,
            )
            await serializer.setup(setup)
            async for raw in ws:
                frame = await serializer.deserialize(raw)
                if isinstance(frame, InputAudioRawFrame):
                    session.heard.append(np.frombuffer(frame.audio, np.int16))
                    if script is None:  # echo
                        out = OutputAudioRawFrame(frame.audio, frame.sample_rate, 1)
                        await self._send(ws, serializer, out)
                elif isinstance(frame, InputDTMFFrame):
                    session.digits.append(frame.button.value)
                    if script is None:
                        script = asyncio.ensure_future(
                            self._script(ws, serializer, session, answered)
                        )
                elif name := self._answered_mark(json.loads(raw)):
                    session.marks.append(name)
                    answered.setdefault(name, asyncio.Event()).set()
        finally:
            if script is not None:
                if script.done() and not script.cancelled() and script.exception():
                    raise cast(BaseException, script.exception())
                script.cancel()
            session.done.set()

    async def _send(self, ws: ServerConnection, serializer: FrameSerializer, frame: Frame) -> None:
        message = await serializer.serialize(frame)
        if message is not None:
            await ws.send(message)

    def _mark(self, session: PipecatSession, name: str) -> OutputTransportMessageFrame:
        stream_id = session.stream_id
        if session.transport == "twilio":
            message = {"event": "mark", "streamSid": stream_id, "mark": {"name": name}}
        else:
            message = {"event": "checkpoint", "streamId": stream_id, "name": name}
        return OutputTransportMessageFrame(message=message)

    async def _wait_mark(self, answered: dict[str, asyncio.Event], name: str) -> None:
        await answered.setdefault(name, asyncio.Event()).wait()

    async def _play_tone(
        self, ws: ServerConnection, serializer: FrameSerializer, hz: float, seconds: float
    ) -> None:
        pcm = tone(hz, seconds, RATE).tobytes()
        for offset in range(0, len(pcm), 2 * CHUNK):
            chunk = OutputAudioRawFrame(pcm[offset : offset + 2 * CHUNK], RATE, 1)
            await self._send(ws, serializer, chunk)

    async def _script(
        self,
        ws: ServerConnection,
        serializer: FrameSerializer,
        session: PipecatSession,
        answered: dict[str, asyncio.Event],
    ) -> None:
        await self._send(ws, serializer, self._mark(session, "echo-end"))
        await self._play_tone(ws, serializer, self.reply_hz, self.reply_seconds)
        await self._send(ws, serializer, self._mark(session, "reply"))
        await self._play_tone(ws, serializer, self.cut_hz, 10.0)
        await self._wait_mark(answered, "reply")
        await asyncio.sleep(self.cut_after)  # the agent's own pacing, not a test's wait
        session.cleared_at = time.monotonic()
        await self._send(ws, serializer, InterruptionFrame())
        await self._send(ws, serializer, self._mark(session, "after-clear"))
        await self._wait_mark(answered, "after-clear")
        if session.transport == "twilio":
            await self._send(ws, serializer, EndFrame())  # pipecat hangs up through the API
        else:
            await ws.close()
