"""A scripted voice agent: a real ``websockets`` server on 127.0.0.1, in its own thread
(PJSUA2 is polled from the test's thread), speaking Plivo's or Twilio's stream messages.

What it does on each connection: keep the start message, decode every inbound
``media`` frame, note DTMF and the answers to its marks. After ``listen_frames``
frames of the caller it plays ``reply_hz`` for ``reply_seconds`` and a mark
(Plivo ``checkpoint``, Twilio ``mark``); once that is answered it plays
``cut_hz`` for 10 s, sends ``clear`` after ``cut_after`` s, then a second mark,
and closes the socket once that one is answered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve

from callplane.rtp.g711 import ulaw_decode, ulaw_encode


def tone(hz: float, seconds: float, rate: int, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@dataclass
class Session:
    start: dict[str, Any] = field(default_factory=dict)
    heard: list[np.ndarray] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, event[:name])
    played_sent_at: float = 0.0
    reply_answered_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def heard_pcm(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)


class VoiceAgent:
    def __init__(
        self,
        protocol: str,
        *,
        rate: int = 8000,
        listen_frames: int = 50,
        reply_hz: float = 1000,
        reply_seconds: float = 2.0,
        cut_hz: float = 1800,
        cut_after: float = 0.5,
    ) -> None:
        self.protocol = protocol
        self.rate = rate
        self.listen_frames = listen_frames
        self.reply_hz, self.reply_seconds = reply_hz, reply_seconds
        self.cut_hz, self.cut_after = cut_hz, cut_after
        self.sessions: list[Session] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    def start(self) -> VoiceAgent:
        self._thread.start()
        assert self._ready.wait(10), "the voice agent did not start"
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    # -- one connection ------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        session = Session()
        self.sessions.append(session)
        marks: dict[str, asyncio.Event] = {"reply": asyncio.Event(), "after-clear": asyncio.Event()}
        script: asyncio.Task[None] | None = None
        try:
            async for raw in ws:
                message = json.loads(raw)
                event = message["event"]
                name = self._answered_mark(message)
                session.events.append((time.monotonic(), f"{event}:{name}" if name else event))
                if event == "start":
                    session.start = message
                elif event == "media":
                    session.heard.append(self._decode(message["media"]["payload"]))
                    if len(session.heard) == self.listen_frames and script is None:
                        script = asyncio.ensure_future(self._script(ws, session, marks))
                elif event == "dtmf":
                    session.digits.append(message["dtmf"]["digit"])
                elif name in marks:
                    marks[name].set()
        finally:
            if script is not None:
                script.cancel()
            session.done.set()

    def _answered_mark(self, message: dict[str, Any]) -> str:
        if self.protocol == "twilio" and message["event"] == "mark":
            return str(message["mark"]["name"])
        if self.protocol == "plivo" and message["event"] == "playedStream":
            return str(message["name"])
        return ""

    async def _script(
        self, ws: ServerConnection, session: Session, marks: dict[str, asyncio.Event]
    ) -> None:
        await self._play(ws, tone(self.reply_hz, self.reply_seconds, self.rate))
        session.played_sent_at = time.monotonic()
        await self._mark(ws, "reply")
        await marks["reply"].wait()
        session.reply_answered_at = time.monotonic()
        await self._play(ws, tone(self.cut_hz, 10.0, self.rate))
        await asyncio.sleep(self.cut_after)  # the agent's own pacing, not a test's wait
        await ws.send(json.dumps({"event": "clear" if self.protocol == "twilio" else "clearAudio"}))
        await self._mark(ws, "after-clear")
        await marks["after-clear"].wait()
        await ws.close()

    def _decode(self, payload: str) -> np.ndarray:
        data = base64.b64decode(payload)
        if self.protocol == "twilio":
            return ulaw_decode(data)
        return np.frombuffer(data, "<i2")

    async def _play(self, ws: ServerConnection, pcm: np.ndarray) -> None:
        if self.protocol == "twilio":
            payload = base64.b64encode(ulaw_encode(pcm)).decode()
            await ws.send(json.dumps({"event": "media", "media": {"payload": payload}}))
            return
        media = {
            "contentType": "audio/x-l16",
            "sampleRate": self.rate,
            "payload": base64.b64encode(pcm.astype("<i2").tobytes()).decode(),
        }
        await ws.send(json.dumps({"event": "playAudio", "media": media}))

    async def _mark(self, ws: ServerConnection, name: str) -> None:
        if self.protocol == "twilio":
            await ws.send(json.dumps({"event": "mark", "mark": {"name": name}}))
        else:
            await ws.send(json.dumps({"event": "checkpoint", "name": name}))
