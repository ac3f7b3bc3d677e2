"""The echo voice agent of ``bench/streams.py``: a ``websockets`` server in its own process
speaking Twilio's stream messages.

Every ``media`` message's payload is sent straight back as the agent's audio while
echoing. The payloads are the RTP load tool's (``bench/rtp_load.payload``: ``MAGIC``,
stream id and sequence number in hex ASCII), which G.711 decoding and encoding leave
intact, so each message names the packet it carries. The agent notes the wall-clock
time (``time.time()``) each one arrived and each echo left.

At ``clear_at - CLEAR_AFTER`` it stops echoing and queues a burst of ``BURST_FRAMES``
frames on every stream (sequence numbers from ``BURST_SEQ``), then at ``clear_at``
sends ``clear`` on every stream, noting when.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from array import array
from multiprocessing.connection import Connection
from typing import Any

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.rtp_load import HOST, MAGIC, payload
from bench.rtp_streams import pin

BURST_FRAMES = 150  # 3 s queued, far more than the time to the clear
BURST_SEQ = 0x40000000
CLEAR_AFTER = 0.3  # seconds between the burst and the clear


class EchoAgent:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.echo = True
        self.streams: dict[ServerConnection, list[Any]] = {}  # ws -> [streamSid, ident]
        self.heard: tuple[array[int], array[int], array[float]] = (
            array("q"),
            array("q"),
            array("d"),
        )
        self.sent: tuple[array[int], array[int], array[float]] = (
            array("q"),
            array("q"),
            array("d"),
        )
        self.clears: dict[int, float] = {}

    async def handle(self, ws: ServerConnection) -> None:
        state = self.streams[ws] = ["", -1]
        try:
            async for raw in ws:
                now = time.time()
                message = orjson.loads(raw)
                event = message.get("event")
                if event == "start":
                    state[0] = message["streamSid"]
                elif event == "media":
                    encoded = message["media"]["payload"]
                    data = base64.b64decode(encoded)
                    if data[:4] != MAGIC:
                        continue
                    ident, seq = int(data[4:12], 16), int(data[12:20], 16)
                    state[1] = ident
                    _note(self.heard, ident, seq, now)
                    if self.echo:
                        echo = {"event": "media", "streamSid": state[0], "media": {}}
                        echo["media"]["payload"] = encoded
                        _note(self.sent, ident, seq, time.time())
                        await ws.send(orjson.dumps(echo), text=True)
        except ConnectionClosed:
            pass  # the call ended (the echo raced the stop)
        finally:
            del self.streams[ws]

    async def clear_phase(self, clear_at: float) -> None:
        await asyncio.sleep(max(0.0, clear_at - CLEAR_AFTER - time.time()))
        self.echo = False
        for ws, (sid, ident) in list(self.streams.items()):
            if ident < 0:  # no audio from this caller yet
                continue
            frames = b"".join(payload(ident, BURST_SEQ + k) for k in range(BURST_FRAMES))
            media = {"payload": base64.b64encode(frames).decode()}
            await _send(ws, {"event": "media", "streamSid": sid, "media": media})
        await asyncio.sleep(max(0.0, clear_at - time.time()))
        for ws, (sid, ident) in list(self.streams.items()):
            self.clears[ident] = time.time()
            await _send(ws, {"event": "clear", "streamSid": sid})

    def results(self) -> dict[str, Any]:
        return {"heard": self.heard, "sent": self.sent, "clears": self.clears}

    def reset(self) -> None:
        self.echo = True
        for records in (self.heard, self.sent):
            for column in records:
                del column[:]
        self.clears = {}

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        async with serve(self.handle, HOST, 0, compression=None) as server:
            self.conn.send(next(iter(server.sockets)).getsockname()[1])
            while True:
                command = await loop.run_in_executor(None, self.conn.recv)
                if command[0] == "quit":
                    return
                if command[0] == "clear":  # ("clear", clear_at, report_at)
                    await self.clear_phase(command[1])
                    await asyncio.sleep(max(0.0, command[2] - time.time()))
                    self.conn.send(self.results())
                    self.reset()


async def _send(ws: ServerConnection, message: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionClosed):  # the call may have ended
        await ws.send(orjson.dumps(message), text=True)


def _note(records: tuple[array[int], array[int], array[float]], i: int, s: int, t: float) -> None:
    records[0].append(i)
    records[1].append(s)
    records[2].append(t)


def agent_main(conn: Connection, cpu: int | None) -> None:
    """Child process entry: report the port, then run clear phases until told to quit."""
    if cpu is not None:
        pin(cpu)
    uvloop.run(EchoAgent(conn).main())
