"""Requests/s of WebhookClient.fetch against a minimal keep-alive server on 127.0.0.1.

Run: ``.venv/bin/python tests/webhooks/bench_fetch.py [--uvloop] [--seconds 5] [--concurrency 50]``

The server runs in a child process so that its CPU time is not charged to the
client's event loop. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time

from callplane.webhooks import WebhookClient
from callplane.webhooks.ssrf import Reach

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 41\r\n\r\n"
    b"<Response><Speak>hello</Speak></Response>"
)
PARAMS = {
    "CallUUID": "2b1c9a9e-6f1e-4f7e-9a55-0c6a3e2b1d77",
    "From": "14155550100",
    "To": "14155550199",
    "Direction": "inbound",
    "CallStatus": "ringing",
    "CallerName": "Jane Doe",
}


class _Fast(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"content-length:")) >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


def _serve(port_queue: multiprocessing.Queue[int]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Fast, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


async def _bench(
    port: int, seconds: float, concurrency: int, method: str, shards: int
) -> tuple[float, float]:
    """Requests/s, and client CPU microseconds per request (steadier on a busy machine)."""
    client = WebhookClient(max_connections=max(concurrency, 200), pool_shards=shards or None)
    url = f"http://127.0.0.1:{port}/answer?app=1"
    count = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop_at:
            await client.fetch(url, method, PARAMS, "token-123", reach=Reach.PRIVATE)
            count += 1

    await client.fetch(url, method, PARAMS, "token-123", reach=Reach.PRIVATE)  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.aclose()
    return count / elapsed, cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--shards", type=int, default=0, help="0: the client's default")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=10)
        run = _bench(port, args.seconds, args.concurrency, args.method, args.shards)
        if args.uvloop:
            import uvloop

            rate, cpu = uvloop.run(run)
        else:
            rate, cpu = asyncio.run(run)
        setup = f"{'uvloop' if args.uvloop else 'asyncio'}, c={args.concurrency}"
        print(
            f"{args.method} fetch: {rate:,.0f} requests/s, {cpu:.0f} us CPU/request"
            f" ({setup}, shards={args.shards})"
        )
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
