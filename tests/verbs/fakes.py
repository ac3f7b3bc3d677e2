"""In-memory stand-ins for what a call's verbs reach: the customer's URLs, TTS and audio
URLs, the caller's phone (SIP responses and RTP media) and the process services.

Each fake records what it was asked to do, so a test asserts what the executor
sent: SIP responses (``FakeLeg.codes``), frames played and digits sent
(``FakeMediaSession``), webhook requests with their parameters (``FakeWebhooks``).
The record writer, port allocator, conference rooms and trunk table are the real
ones: none of them needs a socket.
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callplane.calls.call import Call, new_call_uuid
from callplane.calls.causes import Cause
from callplane.calls.outbound import OutboundLegs
from callplane.calls.records import RecordWriter
from callplane.calls.tracer import Tracer
from callplane.config import Settings
from callplane.errors import WebhookError
from callplane.media.call_media import CallMedia
from callplane.media.conference import Conferences
from callplane.media.errors import FetchError
from callplane.media.pcm import FRAME_SAMPLES, Pcm
from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import RtpSession
from callplane.rtp.errors import RtpError
from callplane.rtp.g711 import Frame, pcm_of
from callplane.store.models import Account, Application, CallRecord, Number, Recording, Route
from callplane.store.outbox import OutboxChanges
from callplane.store.trunks import TrunkTable
from callplane.webhooks.client import WebhookResponse
from callplane.webhooks.ssrf import Reach
from callplane.webhooks.stream_socket import StreamClosed

FRAME_SECONDS = 0.02
AUTH_ID = "MAVERBSTESTS0000000"
AUTH_TOKEN = "verbs-token"
ANSWER_URL = "http://app.test/answer"


def wav_samples(path: str) -> Pcm:
    """The 16-bit samples of a recording's WAV file."""
    with wave.open(path) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16)


def pcm_level(level: int, n_frames: int) -> Pcm:
    """``n_frames`` frames of one constant sample value: easy to recognise when played."""
    return np.full(n_frames * FRAME_SAMPLES, level, np.int16)


# -- the customer's URLs ----------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    kind: str  # "fetch" (an action URL: a document comes back) or "notify" (a callback)
    url: str
    method: str
    params: dict[str, str]
    auth_token: str
    auth_id: str = ""


class FakeWebhooks:
    """Records every request; ``fetch`` answers the document set with ``answer``, else fails."""

    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []
        self.documents: dict[str, tuple[bytes, str]] = {}

    def answer(self, url: str, body: str, content_type: str = "application/xml") -> None:
        self.documents[url] = (body.encode(), content_type)

    def to(self, url: str) -> list[WebhookRequest]:
        return [request for request in self.requests if request.url == url]

    def one(self, url: str) -> WebhookRequest:
        (request,) = self.to(url)
        return request

    async def fetch(
        self,
        url: str,
        method: str,
        params: dict[str, str],
        auth_token: str,
        *,
        reach: Reach,
        timeout: float | None = None,
        main_auth_token: str | None = None,
        kind: str = "action",
    ) -> WebhookResponse:
        assert isinstance(reach, Reach)
        self.requests.append(WebhookRequest("fetch", url, method, dict(params), auth_token))
        if url not in self.documents:
            raise WebhookError("HTTP 404", url, 404)
        body, content_type = self.documents[url]
        return WebhookResponse(200, body, content_type, url)

    async def notify(
        self,
        url: str,
        method: str,
        params: dict[str, str] | None,
        auth_token: str,
        *,
        auth_id: str,
        reach: Reach,
        json_body: dict[str, Any] | None = None,
        main_auth_token: str | None = None,
        kind: str = "callback",
    ) -> bool:
        assert isinstance(reach, Reach)
        sent = dict(params or json_body or {})
        self.requests.append(WebhookRequest("notify", url, method, sent, auth_token, auth_id))
        return True


class FakeAgentSocket:
    """A voice agent's end of a ``<Stream>`` WebSocket, in memory.

    ``received`` holds what the call sent (parsed JSON) with the virtual time it
    arrived; ``says`` queues a message for the call (a dict is sent as JSON),
    ``hang_up`` closes the socket from the agent's side.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.closed = False
        self.full = False  # the socket's send buffer is full: writes wait (``drains``)
        self._listener: Callable[[str], None] | None = None
        self._space = asyncio.Event()
        self._to_call: asyncio.Queue[str | bytes | None] = asyncio.Queue()  # b"": broken

    def says(self, message: object) -> None:
        """A dict or list is sent as JSON text; str and bytes as they are."""
        raw = message if isinstance(message, str | bytes) else json.dumps(message)
        if isinstance(raw, str) and self._listener is not None and self._to_call.empty():
            self._listener(raw)
        else:
            self._to_call.put_nowait(raw)

    def listen(self, handler: Callable[[str], None] | None) -> None:
        self._listener = handler

    def hang_up(self) -> None:
        self._to_call.put_nowait(None)

    def breaks(self) -> None:
        """The connection drops without a closing handshake."""
        self._to_call.put_nowait(b"")

    def events(self) -> list[str]:
        return [message["event"] for _, message in self.received]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [message for _, message in self.received if message["event"] == event]

    def write(self, message: str) -> bool:
        if self.closed or self.full:
            return False
        self.received.append((asyncio.get_running_loop().time(), json.loads(message)))
        return True

    async def send(self, message: str) -> None:
        if self.closed:
            raise StreamClosed("closed")
        while self.full:  # a slow agent: TCP pushes back
            self._space.clear()
            await self._space.wait()
        self.received.append((asyncio.get_running_loop().time(), json.loads(message)))

    def drains(self) -> None:
        """The agent reads again after ``full`` was set."""
        self.full = False
        self._space.set()

    async def recv(self) -> str | bytes:
        item = await self._to_call.get()
        if item is None or item == b"":
            self.closed = True
            raise StreamClosed("closed by the agent", clean=item is None)
        return item

    async def close(self) -> None:
        self.closed = True


class FakeStreams:
    """``Services.streams``: every URL connects to a new ``FakeAgentSocket``, except
    those in ``refused`` (WebhookError, as the outbound policy or a dead host gives)."""

    def __init__(self) -> None:
        self.sockets: dict[str, FakeAgentSocket] = {}
        self.refused: set[str] = set()
        self.reaches: list[Reach] = []

    async def connect(self, url: str, headers: Mapping[str, str], *, reach: Reach) -> Any:
        assert isinstance(reach, Reach)
        self.reaches.append(reach)
        if url in self.refused:
            raise WebhookError("connection refused", url)
        socket = self.sockets[url] = FakeAgentSocket(url, dict(headers))
        return socket


class FakeTts:
    """Speaks every text as its own constant level (``sounds[text]``); ``fails`` raise."""

    def __init__(self) -> None:
        self.name = "fake"
        self.sounds: dict[str, Pcm] = {}
        self.calls: list[tuple[str, str, str]] = []

    async def synthesize(self, text: str, voice: str, language: str) -> Pcm:
        self.calls.append((text, voice, language))
        if text not in self.sounds:
            self.sounds[text] = pcm_level(1000 + 10 * len(self.sounds), 3)
        return self.sounds[text]


class FakeAudio:
    """``<Play>`` URLs: the PCM set in ``files``; any other URL fails like a 404."""

    def __init__(self) -> None:
        self.files: dict[str, Pcm] = {}
        self.fetched: list[str] = []

    async def fetch(self, url: str, *, reach: Reach) -> Pcm:
        assert isinstance(reach, Reach)
        self.fetched.append(url)
        if url not in self.files:
            raise FetchError(url, "HTTP 404", 404)
        return self.files[url]


# -- the caller's phone -----------------------------------------------------------------


class FakeMediaSession:
    """What ``CallMedia`` drives in place of an ``RtpSession``.

    ``play`` takes one frame per 20 ms of (virtual) time and keeps it in
    ``played``. The caller's side is a script (``caller_sends``), played from
    the moment the call's media opens, on its own 20 ms ticks as a phone would:
    one item per tick, a frame of audio or a string of keys (``None`` is a tick
    with nothing). ``press`` delivers keys at once.
    """

    def __init__(self) -> None:
        self.on_audio: Any = None
        self.on_payload: Any = None  # never called: the caller's audio comes as PCM
        self.on_dtmf: Any = None
        self.played: list[Pcm] = []
        self.digits_sent = ""
        self.telephone_event = True  # False: the caller's SDP offered no RFC 4733
        self.closed = False
        self.playing = False
        self.opened = False
        self._caller: deque[Pcm | str | None] = deque()
        self._caller_task: asyncio.Task[None] | None = None

    def open(self) -> None:
        self.opened = True
        self._start_caller()

    def caller_sends(self, *items: Pcm | str | None) -> None:
        self._caller.extend(items)
        self._start_caller()

    def caller_says(self, pcm: Pcm) -> None:
        """Queue ``pcm`` as the caller's audio, one frame per tick."""
        self.caller_sends(*(pcm[i : i + FRAME_SAMPLES] for i in range(0, len(pcm), FRAME_SAMPLES)))

    def press(self, keys: str) -> None:
        for key in keys:
            self.on_dtmf(key)

    def played_pcm(self) -> Pcm:
        return np.concatenate(self.played) if self.played else np.zeros(0, np.int16)

    async def play(self, frames: Iterable[Frame]) -> None:
        if self.playing:
            raise RtpError("this session is already playing")
        self.playing = True
        try:
            for frame in frames:
                self.played.append(pcm_of(frame))
                await asyncio.sleep(FRAME_SECONDS)
        finally:
            self.playing = False

    def _start_caller(self) -> None:
        running = self._caller_task is not None and not self._caller_task.done()
        if self.opened and self._caller and not running:
            self._caller_task = asyncio.ensure_future(self._caller_speaks())

    async def _caller_speaks(self) -> None:
        while self._caller:
            await asyncio.sleep(FRAME_SECONDS)
            item = self._caller.popleft()
            if isinstance(item, str):
                self.press(item)
            elif item is not None and self.on_audio is not None:
                self.on_audio(item)

    async def send_dtmf(self, digits: str) -> None:
        if not self.telephone_event:
            raise RtpError("the remote side negotiated no telephone-event payload type")
        for digit in digits:
            self.digits_sent += digit
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.closed = True


class FakeLeg:
    """The SIP side of an inbound call (the ``CallLeg`` protocol), recording what it sent."""

    def __init__(self, sip: Any = None) -> None:
        self.sip = sip
        self.session = FakeMediaSession()
        self.media: CallMedia | None = None
        self.responses: list[tuple[int, str | None]] = []
        self.byes = 0
        self.no_common_codec = False
        self.dialog = None
        self.invite = None

    @property
    def codes(self) -> list[int]:
        return [code for code, _ in self.responses]

    def respond(
        self,
        code: int,
        phrase: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        self.responses.append((code, phrase))

    async def open_media(self) -> CallMedia | None:
        if self.no_common_codec:
            self.respond(488, "Not Acceptable Here")
            return None
        if self.media is None:
            self.media = CallMedia(self.session)
            self.session.open()
        return self.media

    def early_media(self) -> None:
        self.respond(183, "Session Progress")

    def accept(self) -> None:
        self.respond(200, "OK")

    def on_ack(self, ack: object) -> None:
        pass

    async def wait_ack(self, timeout: float) -> bool:
        return True

    async def close_media(self) -> None:
        if self.media is not None:
            await self.media.close()

    async def bye(self) -> bool:
        self.byes += 1
        return True


class RtpLeg(FakeLeg):
    """A ``FakeLeg`` whose media is a real ``RtpSession`` on the loop's in-memory network,
    sending PCMU (telephone-event 101) to the caller's phone at ``phone``; for a Dial
    whose bridge relays real packets."""

    def __init__(self, sip: Any, ports: PortAllocator, phone: tuple[str, int]) -> None:
        super().__init__(sip)
        self.ports = ports
        self.phone = phone

    async def open_media(self) -> CallMedia | None:
        if self.media is None:
            session = await RtpSession.open(self.ports, "127.0.0.1")
            session.set_remote(self.phone[0], self.phone[1], 0, 101)
            self.media = CallMedia(session)
        return self.media


# -- the process ------------------------------------------------------------------------


@dataclass
class FakeServices:
    """``CallServices`` over the fakes; ``records`` is the real writer into ``written``."""

    data_dir: Path
    webhooks: FakeWebhooks = field(default_factory=FakeWebhooks)
    tts: FakeTts = field(default_factory=FakeTts)
    audio: FakeAudio = field(default_factory=FakeAudio)
    streams: FakeStreams = field(default_factory=FakeStreams)
    ports: PortAllocator = field(default_factory=lambda: PortAllocator(40000, 40100))
    conferences: Conferences = field(default_factory=Conferences)
    trunks: TrunkTable = field(default_factory=TrunkTable)
    outbound: OutboundLegs | None = field(default_factory=OutboundLegs)
    room_homes: None = None  # one process: every room is here
    written: list[CallRecord] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    ended: list[tuple[str, Cause]] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    tracer: Tracer = field(default_factory=Tracer)  # off: the call inspector's capture

    def __post_init__(self) -> None:
        self.settings = Settings(data_dir=self.data_dir, sip_host="127.0.0.1")

        async def write(
            batch: list[CallRecord], outbox: OutboxChanges | None = None, traced: object = None
        ) -> None:
            self.written.extend(batch)

        self.records = RecordWriter(write)

    async def save_recording(self, recording: Recording) -> None:
        self.recordings.append(recording)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.append(task)
        return task

    def call_ended(self, call: Call, cause: Cause) -> None:
        self.ended.append((call.uuid, cause))
        self.records.put(call.record)

    async def settle(self) -> None:
        """Wait for every background task, including those they spawn; re-raise failures."""
        done = 0
        while done < len(self.tasks):
            task = self.tasks[done]
            done += 1
            await task


def new_call(services: FakeServices, leg: FakeLeg | None = None, dialect: str = "") -> Call:
    account = Account(AUTH_ID, AUTH_TOKEN, "verbs")
    app = Application("APP1", AUTH_ID, "verbs app", ANSWER_URL, dialect=dialect)
    route = Route(Number("15550001111", AUTH_ID, "APP1"), account, app)
    record = CallRecord(new_call_uuid(), AUTH_ID, "15557654321", "15550001111", app_id="APP1")
    return Call(services, route, leg or FakeLeg(), record, {}, ())  # type: ignore[arg-type]


async def until(condition: Callable[[], object], limit: float = 30.0) -> None:
    """Wait (virtual time, one 20 ms tick at a time) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {limit} s: {condition}")
        await asyncio.sleep(FRAME_SECONDS)
