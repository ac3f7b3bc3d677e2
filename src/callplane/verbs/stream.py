"""Stream: the call's audio to a voice agent's WebSocket, and the agent's audio back.

The socket opens under the outbound request policy (``Services.streams``), with
the same signature headers as webhooks (Plivo V3/V2, or ``X-Twilio-Signature``
for TwiML). Every 20 ms frame the call hears (``inbound``) or sends
(``outbound``) goes out as a ``media`` message from the ``CallMedia`` listener
that saw it, and the caller's keys from the digit listener, so DTMF reaches the
socket in order with the audio. Messages are written to the socket at once, or
queued for a sender task while the agent's TCP window is full; the agent's text
messages are obeyed as they arrive (``StreamSocket.listen``). The agent's audio
is queued in :class:`~callplane.media.stream_audio.AgentAudio` and pulled one frame per tick
of the shared media clock (a µ-law stream on a PCMU leg passes the bytes through
both ways, see ``CallMedia``): played by the verb itself when the stream blocks the
document (``keepCallAlive``, ``<Connect>``), mixed under the next verbs and any
REST API Play/Speak (a background of the call's media) when a bidirectional
stream runs beside them.

A stream ends when the agent closes the socket, after ``streamTimeout``, when a
``StopStream`` names it, or with the call. A socket that cannot be opened or
breaks is noted in the call log, reported to the status callback, and the
document goes on. Bad messages from the agent are counted, logged (the first and
every hundredth) and dropped; queued audio and unsent messages are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from callplane.calls.call import Call, ForkedStream, new_call_uuid, utcnow
from callplane.errors import WebhookError
from callplane.markup.verbs import StopStream, Stream
from callplane.media.pcm import Pcm
from callplane.media.stream_audio import (
    MULAW,
    AgentAudio,
    AudioFormat,
    Downsampler,
    Upsampler,
    decode,
    encode,
)
from callplane.rtp.g711 import ulaw_encode
from callplane.store.ids import uuid_sid
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome
from callplane.verbs.stream_messages import (
    BadMessage,
    Clear,
    Command,
    Mark,
    Messages,
    PlayAudio,
    StreamInfo,
    parse,
)
from callplane.webhooks.signing import SigningKeys, sign, twilio_signature
from callplane.webhooks.stream_socket import StreamClosed, StreamSocket

log = logging.getLogger("callplane.streams")

MAX_FORKS = 10  # streams running beside one call's document at once
KEPT_ENDED = 20  # ended forks a call keeps for the REST API to read
MAX_UNSENT = 500  # messages waiting for a slow socket (5 s of both tracks); oldest dropped
CLOSE_TIMEOUT = 2.0  # seconds for the stop message and the closing handshake
BAD_LOG_EVERY = 100


async def run(call: Call, verb: Stream) -> Outcome:
    if not await call.answer():
        return ENDED
    if not verb.blocking:
        if fork(call, verb) is None:
            call.note(f"Stream to {verb.url} not started: {MAX_FORKS} already running", "error")
        return NEXT
    stream = AgentStream(call, verb)
    await stream.run()
    call.media.clear_digits()  # they went to the agent
    if call.ended:
        return ENDED
    if verb.action:
        document = await call.fetch_action(verb.action, verb.method, stream.action_params())
        return NewDocument(document) if document is not None else ENDED
    return NEXT


def fork(call: Call, verb: Stream) -> ForkedStream | None:
    """Run ``verb`` beside the document (or the REST API's call) until it or the call ends;
    None when ``MAX_FORKS`` already run."""
    ended = [key for key, s in call.streams.items() if s.ended is not None]
    if len(call.streams) - len(ended) >= MAX_FORKS:
        return None
    for key in ended[: max(0, len(ended) - KEPT_ENDED + 1)]:
        del call.streams[key]
    stream = AgentStream(call, verb)
    task = call.services.spawn(stream.run())
    forked = call.streams[stream.stream_id] = ForkedStream(stream.stream_id, verb, utcnow(), task)
    stream.forked = forked

    def stopped_early(_: asyncio.Task[None]) -> None:  # cancelled before it connected
        if forked.ended is None:
            forked.status, forked.ended = "completed", utcnow()

    task.add_done_callback(stopped_early)

    async def stop_with_call() -> None:
        task.cancel()

    call.end_hooks.append(stop_with_call)
    return forked


async def stop(call: Call, verb: StopStream) -> Outcome:
    """TwiML ``<Stop><Stream name>``: end the named fork (every fork without a name)."""
    await stop_forks([s for s in call.streams.values() if verb.name in ("", s.verb.name)])
    return NEXT


async def stop_forks(streams: list[ForkedStream]) -> None:
    for stream in streams:
        stream.task.cancel()
    await asyncio.gather(*(stream.task for stream in streams), return_exceptions=True)


class AgentStream:
    """One stream of one call, from connect to close."""

    def __init__(self, call: Call, verb: Stream) -> None:
        self.call = call
        self.verb = verb
        twilio = verb.protocol == "twilio"  # Twilio streams are mu-law 8 kHz, always
        self.format = AudioFormat.parse("audio/x-mulaw" if twilio else verb.content_type)
        # Twilio's stream SIDs are MZ + 32 hex digits; Plivo's stream ids are UUIDs
        self.stream_id = uuid_sid("MZ", new_call_uuid()) if twilio else new_call_uuid()
        self.key = verb.name or self.stream_id
        self.tracks = ("inbound", "outbound") if verb.audio_track == "both" else (verb.audio_track,)
        call_id, account_id = call.uuid, call.route.account.auth_id
        if twilio:  # a call placed through the Twilio API goes by Twilio's ids everywhere
            call_id = call.sip_headers.get("CallSid", call_id)
            account_id = call.sip_headers.get("AccountSid", account_id)
        info = StreamInfo(
            self.stream_id,
            call_id,
            account_id,
            self.tracks,
            self.format,
            verb.extra_headers,
            verb.parameters,
            verb.name,
        )
        self.messages = Messages(verb.protocol, info)
        self.mulaw = self.format.encoding == MULAW
        self.agent = AgentAudio(self._played, mulaw=self.mulaw)
        self._socket: StreamSocket | None = None  # while messages may be written to it
        self._unsent: deque[str] = deque()
        self._wake = asyncio.Event()
        self._upsamplers = {track: Upsampler() for track in self.tracks}
        self._downsampler = Downsampler()
        self._chunks = dict.fromkeys(self.tracks, 0)
        self._started = 0.0
        self._now = asyncio.get_running_loop().time
        self.dropped_messages = 0
        self.bad_messages = 0
        self.forked: ForkedStream | None = None

    # -- the socket's life -------------------------------------------------------------

    async def run(self) -> None:
        socket = await self._connect()
        if socket is None:
            return
        self._started = self._now()
        self._status("started")
        self.call.note(f"Stream {self.key}: connected to {self.verb.url}")
        why = "closed by the application"
        try:
            async with asyncio.timeout(self.verb.stream_timeout):
                await self._exchange(socket)
        except TimeoutError:
            why = "streamTimeout"
        except asyncio.CancelledError:
            why = "stopped"
            raise
        except StreamClosed as exc:
            why = f"socket lost: {exc}"
        finally:
            await self._close(socket)
            self._finished(why)

    async def _connect(self) -> StreamSocket | None:
        try:
            return await self.call.services.streams.connect(
                self.verb.url, self._signature(), reach=self.call.reach
            )
        except WebhookError as exc:
            self.call.note(f"Stream {self.key}: {exc}", "error")
            self._status("failed", str(exc))
            if self.forked is not None:
                self.forked.status, self.forked.ended = "failed", utcnow()
            return None

    def _signature(self) -> dict[str, str]:
        token = self.call.route.account.auth_token
        if self.verb.protocol == "twilio":
            return {"X-Twilio-Signature": twilio_signature("GET", self.verb.url, {}, token)}
        return sign("GET", self.verb.url, {}, SigningKeys(token))

    async def _exchange(self, socket: StreamSocket) -> None:
        """Until the agent closes the socket: frames and keys out, commands in."""
        self._socket = socket
        for message in self.messages.opening():
            self._send(message)
        media = self.call.media
        media.digit_listeners.append(self._key)
        if "inbound" in self.tracks and self.mulaw:
            media.mulaw_listeners.append(self._heard_mulaw)
        elif "inbound" in self.tracks:
            media.listeners.append(self._heard)
        if "outbound" in self.tracks:
            media.sent_listeners.append(self._sent)
        sender = asyncio.ensure_future(self._sender(socket))
        tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._receiver(socket))]
        agent_frames = self.agent.frames()
        if self.verb.blocking:
            tasks.append(asyncio.ensure_future(media.play_frames(agent_frames)))
        elif self.verb.bidirectional:
            media.add_background(agent_frames)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # StreamClosed from the receiver: the socket broke
        finally:
            self._socket = None
            for task in (*tasks, sender):
                task.cancel()
            await asyncio.gather(*tasks, sender, return_exceptions=True)
            _discard(media.digit_listeners, self._key)
            _discard(media.listeners, self._heard)
            _discard(media.mulaw_listeners, self._heard_mulaw)
            _discard(media.sent_listeners, self._sent)
            if not self.verb.blocking and self.verb.bidirectional:
                await media.remove_background(agent_frames)

    async def _close(self, socket: StreamSocket) -> None:
        with contextlib.suppress(StreamClosed, TimeoutError, OSError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await socket.send(self.messages.stop())
                await socket.close()

    def _finished(self, why: str) -> None:
        extra = []
        if self.bad_messages:
            extra.append(f"{self.bad_messages} bad messages dropped")
        if self.agent.dropped_frames:
            extra.append(f"{self.agent.dropped_frames} frames of agent audio dropped (queue full)")
        if self.dropped_messages:
            extra.append(f"{self.dropped_messages} messages to the agent dropped (socket slow)")
        detail = f" ({'; '.join(extra)})" if extra else ""
        self.call.note(f"Stream {self.key}: ended, {why}{detail}")
        failed = why.startswith("socket lost")
        self._status("failed" if failed else "stopped", why if failed else "")
        if self.forked is not None:
            self.forked.status = "failed" if failed else "completed"
            self.forked.ended = utcnow()

    # -- to the agent --------------------------------------------------------------------

    def _send(self, message: str) -> None:
        """At once when the socket takes it, else queued (in order) for the sender."""
        if not self._unsent and self._socket is not None and self._socket.write(message):
            return
        if len(self._unsent) >= MAX_UNSENT:
            self._unsent.popleft()
            self.dropped_messages += 1
        self._unsent.append(message)
        self._wake.set()

    async def _sender(self, socket: StreamSocket) -> None:
        """Until the socket closes; the receiver tells a clean close from a broken one."""
        with contextlib.suppress(StreamClosed):
            while True:
                while self._unsent:
                    await socket.send(self._unsent.popleft())
                self._wake.clear()
                await self._wake.wait()

    def _heard(self, frame: Pcm) -> None:
        self._media("inbound", encode(frame, self.format, self._upsamplers["inbound"]))

    def _heard_mulaw(self, payload: bytes) -> None:
        self._media("inbound", payload)

    def _sent(self, frame: Pcm) -> None:
        self._media("outbound", encode(frame, self.format, self._upsamplers["outbound"]))

    def _media(self, track: str, payload: bytes) -> None:
        elapsed_ms = int((self._now() - self._started) * 1000)
        chunk = self._chunks[track] = self._chunks[track] + 1
        self._send(self.messages.media(track, payload, elapsed_ms, chunk))

    def _key(self, digit: str) -> None:
        self._send(self.messages.dtmf(digit))

    def _played(self, name: str) -> None:
        self._send(self.messages.played(name))

    # -- from the agent ------------------------------------------------------------------

    async def _receiver(self, socket: StreamSocket) -> None:
        """Until the agent closes the socket (a normal end); a broken socket raises.
        Whole text messages come to ``_take`` as they arrive, the rest through here."""
        socket.listen(self._take)
        try:
            await self._receive(socket)
        finally:
            socket.listen(None)

    async def _receive(self, socket: StreamSocket) -> None:
        while True:
            try:
                raw = await socket.recv()
            except StreamClosed as exc:
                if exc.clean:
                    return
                raise
            self._take(raw)

    def _take(self, raw: str | bytes) -> None:
        try:
            self._obey(parse(raw, self.verb.protocol, self.format))
        except BadMessage as exc:
            self._bad(str(exc))

    def _obey(self, command: Command) -> None:
        if isinstance(command, PlayAudio):
            if not self.verb.bidirectional:
                raise BadMessage("audio on a one-way stream (bidirectional is false)")
            if self.mulaw and command.format.encoding == MULAW:
                self.agent.push(command.payload)  # as it came: a PCMU leg sends it untouched
                return
            try:
                pcm = decode(command.payload, command.format, self._downsampler)
            except ValueError as exc:
                raise BadMessage(str(exc)) from None
            self.agent.push(ulaw_encode(pcm) if self.mulaw else pcm)
        elif isinstance(command, Mark):
            self.agent.mark(command.name)
        elif isinstance(command, Clear):
            dropped_marks = self.agent.clear()
            if self.verb.protocol == "twilio":
                for name in dropped_marks:
                    self._played(name)
            cleared = self.messages.cleared()
            if cleared is not None:
                self._send(cleared)

    def _bad(self, why: str) -> None:
        self.bad_messages += 1
        if self.bad_messages == 1 or self.bad_messages % BAD_LOG_EVERY == 0:
            log.warning(
                "stream %s of call %s: bad message dropped (%s; %d so far)",
                self.key,
                self.call.uuid,
                why,
                self.bad_messages,
            )

    # -- to the customer's URLs ----------------------------------------------------------

    def action_params(self) -> dict[str, str]:
        return {"StreamSid": self.stream_id, "StreamName": self.verb.name}

    def _status(self, event: str, error: str = "") -> None:
        url = self.verb.status_callback_url
        if not url:
            return
        call = self.call
        if self.verb.protocol == "twilio":
            params = {
                "AccountSid": self.messages.info.account_id,
                "CallSid": self.messages.info.call_id,
                "StreamSid": self.stream_id,
                "StreamName": self.verb.name or self.stream_id,
                "StreamEvent": f"stream-{'error' if event == 'failed' else event}",
            }
            if error:
                params["StreamError"] = error
        else:
            params = {
                "CallUUID": call.uuid,
                "StreamID": self.stream_id,
                "Event": {"started": "StartStream", "stopped": "StopStream"}.get(
                    event, "FailedStream"
                ),
            }
            if error:
                params["Error"] = error
        account = call.route.account
        call.services.spawn(
            call.services.webhooks.notify(
                url,
                self.verb.status_callback_method,
                params,
                account.auth_token,
                auth_id=account.auth_id,
                reach=call.reach,
            )
        )


def _discard(listeners: list[Any], item: object) -> None:
    with contextlib.suppress(ValueError):
        listeners.remove(item)
