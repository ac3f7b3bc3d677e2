"""Agent WebSockets (``<Stream>``) under the outbound request policy, against a real local
``websockets`` server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from callplane.errors import WebhookError
from callplane.webhooks import stream_socket
from callplane.webhooks.ssrf import OutboundPolicy, Reach
from callplane.webhooks.stream_socket import StreamClosed, StreamSockets


class Agent:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.headers: list[Headers] = []

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.paths.append(connection.request.path)
        self.headers.append(connection.request.headers)
        async for message in connection:
            if message == "big":
                await connection.send("x" * (stream_socket.MAX_MESSAGE + 1))
            elif message == "burst":  # whole frames, a ping and a fragmented one, back to back
                for n in range(50):
                    await connection.send(f"m{n}" * (n * 7))
                await connection.ping()
                await connection.send(["frag", "mented"])
                await connection.send("é" * 70)
                await connection.send("last")
            else:
                await connection.send(f"echo {message}")


@pytest.fixture
async def agent() -> AsyncIterator[tuple[Agent, int]]:
    handler = Agent()
    async with serve(handler.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield handler, port


async def test_connects_to_a_private_agent_for_a_private_reach_with_headers(
    agent: tuple[Agent, int],
) -> None:
    handler, port = agent
    sockets = StreamSockets()

    ws = await sockets.connect(
        f"ws://localhost:{port}/voice?x=1", {"X-Test": "yes"}, reach=Reach.PRIVATE
    )
    await ws.send("hello")
    assert await ws.recv() == "echo hello"
    await ws.close()

    assert handler.paths == ["/voice?x=1"] and handler.headers[0]["X-Test"] == "yes"
    assert handler.headers[0]["Host"] == f"localhost:{port}"
    with pytest.raises(StreamClosed):
        await ws.recv()


async def test_a_public_reach_never_reaches_loopback(agent: tuple[Agent, int]) -> None:
    handler, port = agent
    with pytest.raises(WebhookError, match="refused by the outbound request policy"):
        await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PUBLIC)
    assert handler.paths == []


async def test_callplanes_own_port_is_refused_for_everyone(agent: tuple[Agent, int]) -> None:
    handler, port = agent
    sockets = StreamSockets(OutboundPolicy(own_ports=[port]))
    with pytest.raises(WebhookError, match="refused"):
        await sockets.connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    assert handler.paths == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "ws://", "wss://127.0.0.1:99999/"])
async def test_bad_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(WebhookError):
        await StreamSockets().connect(url, {}, reach=Reach.PRIVATE)


async def test_a_server_that_never_answers_the_handshake_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream_socket, "CONNECT_TIMEOUT", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(WebhookError, match="no WebSocket within"):
            await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)


async def test_a_message_over_the_size_limit_closes_the_socket(agent: tuple[Agent, int]) -> None:
    _, port = agent
    ws = await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    await ws.send("big")
    with pytest.raises(StreamClosed, match="1009"):
        await asyncio.wait_for(ws.recv(), 5)


async def test_written_messages_arrive_in_order_and_a_closed_socket_takes_none(
    agent: tuple[Agent, int],
) -> None:
    _, port = agent
    ws = await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    assert all([ws.write("one"), ws.write("two")])
    assert [await ws.recv(), await ws.recv()] == ["echo one", "echo two"]
    await ws.close()

    assert not ws.write("three")


async def test_a_listener_gets_text_messages_as_they_arrive_and_recv_the_rest(
    agent: tuple[Agent, int],
) -> None:
    _, port = agent
    ws = await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    heard: list[str] = []
    came = asyncio.Event()

    def listener(message: str) -> None:
        heard.append(message)
        came.set()

    ws.listen(listener)
    await ws.send("one")
    await asyncio.wait_for(came.wait(), 5)
    assert heard == ["echo one"]

    ws.listen(None)
    await ws.send("two")
    assert await asyncio.wait_for(ws.recv(), 5) == "echo two"
    assert heard == ["echo one"]
    await ws.close()


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536, 70000])
def test_a_hand_built_text_frame_reads_back_with_websockets_own_parser(length: int) -> None:
    data = ("é" * length).encode()[:length]
    mask = bytes([0x12, 0x34, 0xAB, 0xCD])
    built = stream_socket.text_frame(data, mask)

    reader = StreamReader()
    reader.feed_data(built)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    else:
        raise AssertionError("the frame was incomplete")
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, data)


def test_masking_keys_differ_from_frame_to_frame() -> None:
    keys = [stream_socket._masks.next() for _ in range(3000)]  # crosses a pool refill
    assert all(len(key) == 4 for key in keys)
    assert len(set(keys)) > 2900


async def test_written_messages_of_every_frame_length_class_arrive_whole(
    agent: tuple[Agent, int],
) -> None:
    _, port = agent
    ws = await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    messages = ["", "a" * 125, "b" * 126, "c" * 65535, "d" * 70000, '{"event":"media"}']
    for message in messages:
        if not ws.write(message):  # the send buffer is full: wait for it to drain
            await ws.send(message)
    for message in messages:
        assert await asyncio.wait_for(ws.recv(), 5) == f"echo {message}"
    await ws.close()


def _server_frames(*frames: Frame) -> bytes:
    return b"".join(frame.serialize(mask=False) for frame in frames)


def test_whole_text_frames_are_split_without_the_parser() -> None:
    texts = ["", "a", "é" * 63, "x" * 126, "y" * 65535]
    data = _server_frames(*(Frame(Opcode.TEXT, text.encode()) for text in texts))
    assert stream_socket.whole_text_frames(data, 1 << 20) == texts
    assert stream_socket.whole_text_frames(b"", 1 << 20) == []


@pytest.mark.parametrize(
    "data",
    [
        _server_frames(Frame(Opcode.TEXT, b"a"), Frame(Opcode.PING, b"")),
        _server_frames(Frame(Opcode.TEXT, b"part", fin=False), Frame(Opcode.CONT, b"rest")),
        _server_frames(Frame(Opcode.BINARY, b"\x00")),
        _server_frames(Frame(Opcode.TEXT, b"whole"))[:-1],  # cut by the read
        _server_frames(Frame(Opcode.TEXT, b"ab"))[:1],
        _server_frames(Frame(Opcode.TEXT, b"x" * 300))[:3],
        _server_frames(Frame(Opcode.TEXT, b"\xff\xfe")),  # not UTF-8
        _server_frames(Frame(Opcode.TEXT, b"x" * 70000)),  # a 64-bit length
        _server_frames(Frame(Opcode.TEXT, b"x" * 200)),  # over this call's max_size
        Frame(Opcode.TEXT, b"masked").serialize(mask=True),
    ],
    # fixed ids: the masked frame's key is random, and pytest-xdist's workers must
    # collect the same test names
    ids=[
        "ping",
        "fragmented",
        "binary",
        "cut",
        "header-only",
        "cut-extended-length",
        "not-utf8",
        "64-bit-length",
        "over-max-size",
        "masked",
    ],
)
def test_anything_but_whole_text_frames_is_left_to_the_parser(data: bytes) -> None:
    assert stream_socket.whole_text_frames(data, 150) is None


async def test_a_listener_and_recv_together_get_every_message_once_in_order(
    agent: tuple[Agent, int],
) -> None:
    _, port = agent
    ws = await StreamSockets().connect(f"ws://127.0.0.1:{port}/", {}, reach=Reach.PRIVATE)
    got: list[str] = []
    done = asyncio.Event()

    def take(message: str) -> None:
        got.append(message)
        if message == "last":
            done.set()

    ws.listen(take)

    async def receive() -> None:
        while True:
            message = await ws.recv()
            assert isinstance(message, str)
            take(message)

    receiving = asyncio.ensure_future(receive())
    await ws.send("burst")
    expected = [f"m{n}" * (n * 7) for n in range(50)] + ["fragmented", "é" * 70, "last"]
    await asyncio.wait_for(done.wait(), 5)
    receiving.cancel()
    await ws.close()
    assert got == expected
