"""How many paced G.711 streams can one core send? (``callplane.net.rtp_session``)

This process (pinned to one CPU) opens N ``RtpSession``s that each play an
endless 20 ms PCMU frame to one receiver socket on 127.0.0.1. A second process
(pinned to another CPU when there is one) records every packet with its kernel
receive time (SO_TIMESTAMPNS) and, per stream, measures

* jitter: |arrival interval - 20 ms| between consecutive sequence numbers,
* loss: sequence numbers missing inside the measurement window,
* spread: max - min of (arrival - RTP timestamp / 8000), i.e. drift + jitter.

Pacing ``clock`` is the library's shared 20 ms MediaClock; ``task`` is the
alternative (one asyncio task per stream sleeping to its absolute deadlines),
kept here to compare.

    .venv/bin/python bench/rtp_streams.py                       # both, default steps
    .venv/bin/python bench/rtp_streams.py --pacing clock --steps 100 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing as mp
import os
import resource
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import PERIOD, RtpSession

HOST = "127.0.0.1"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RTP_FIELDS = struct.Struct("!HII")
TIMESPEC = struct.Struct("qq")
WARMUP = 1.0
JITTER_LIMIT_MS = 5.0


@dataclass
class Result:
    pacing: str
    streams: int
    packets: int
    lost: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    spread_ms: float
    cpu: float
    rx_drops: int

    @property
    def ok(self) -> bool:
        return self.p99_ms < JITTER_LIMIT_MS and self.lost == 0

    def row(self) -> str:
        return (
            f"{self.pacing:>6} {self.streams:>6} {self.packets:>9} {self.lost:>6} "
            f"{self.p50_ms:>8.3f} {self.p99_ms:>8.3f} {self.max_ms:>8.2f} "
            f"{self.spread_ms:>9.2f} {self.cpu:>6.0%} {self.rx_drops:>8}  "
            f"{'ok' if self.ok else '--'}"
        )


HEADER = (
    "pacing streams   packets   lost  p50(ms)  p99(ms)  max(ms) spread(ms)   cpu rx_drops\n"
    + "-" * 87
)


# -- receiver process ---------------------------------------------------------


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def receiver_main(conn: Connection, cpu: int) -> None:
    pin(cpu)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rtp.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    rtp.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    rtp.bind((HOST, 0))
    port = rtp.getsockname()[1]
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind((HOST, port + 1))
    rtp.settimeout(0.05)
    conn.send(port)
    while (command := conn.recv()) != "quit":
        assert command == "begin"
        conn.send(record(rtp, conn))
    rtp.close()
    rtcp.close()


def record(sock: socket.socket, conn: Connection) -> dict[str, float]:
    ssrcs: list[int] = []
    seqs: list[int] = []
    stamps: list[int] = []
    arrivals: list[float] = []
    space = socket.CMSG_SPACE(TIMESPEC.size) + socket.CMSG_SPACE(4)
    drops = [0, 0]
    while not conn.poll():
        for _ in range(2000):
            try:
                data, ancillary, _, _ = sock.recvmsg(2048, space)
            except TimeoutError:
                break
            seq, ts, ssrc = RTP_FIELDS.unpack_from(data, 2)
            ssrcs.append(ssrc)
            seqs.append(seq)
            stamps.append(ts)
            arrivals.append(arrival(ancillary, drops))
    conn.recv()
    drain(sock)
    stats = analyse(np.array(ssrcs), np.array(seqs), np.array(stamps), np.array(arrivals))
    stats["rx_drops"] = float(drops[1] - drops[0])
    return stats


def arrival(ancillary: list[tuple[int, int, bytes]], drops: list[int]) -> float:
    """Kernel receive time; also tracks the socket's overflow counter (SO_RXQ_OVFL)."""
    stamp = time.time()
    for _, kind, data in ancillary:
        if kind == SO_TIMESTAMPNS:
            seconds, nanos = TIMESPEC.unpack(data)
            stamp = seconds + nanos * 1e-9
        elif kind == SO_RXQ_OVFL:
            (count,) = struct.unpack("I", data)
            drops[0] = drops[0] or count
            drops[1] = count
    return stamp


def drain(sock: socket.socket) -> None:
    sock.settimeout(0.2)
    try:
        while True:
            sock.recv(2048)
    except TimeoutError:
        sock.settimeout(0.05)


def analyse(
    ssrcs: np.ndarray, seqs: np.ndarray, stamps: np.ndarray, arrivals: np.ndarray
) -> dict[str, float]:
    jitter: list[np.ndarray] = []
    lost = 0
    spreads: list[float] = []
    for ssrc in np.unique(ssrcs):
        mask = ssrcs == ssrc
        seq = np.unwrap(seqs[mask], period=65536)
        steps = np.diff(seq)
        lost += int(seq.max() - seq.min() + 1 - len(seq))
        intervals = np.diff(arrivals[mask])[steps == 1]
        jitter.append(np.abs(intervals - PERIOD) * 1000)
        media = np.unwrap(stamps[mask], period=2**32) / 8000
        offset = arrivals[mask] - media
        spreads.append(float(offset.max() - offset.min()) * 1000)
    all_jitter = np.concatenate(jitter) if jitter else np.zeros(1)
    return {
        "packets": float(len(seqs)),
        "lost": float(lost),
        "p50": float(np.percentile(all_jitter, 50)),
        "p99": float(np.percentile(all_jitter, 99)),
        "max": float(all_jitter.max()),
        "spread": float(np.percentile(spreads, 99)) if spreads else 0.0,
    }


# -- sender (this process) ----------------------------------------------------


async def task_pacing(session: RtpSession, frame: np.ndarray) -> None:
    """The alternative to MediaClock: one task per stream, absolute deadlines."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    session.align_timestamp(start)
    for n in itertools.count(1):
        session.send_frame(frame, marker=n == 1)
        await asyncio.sleep(start + n * PERIOD - loop.time())


def start_stream(session: RtpSession, frame: np.ndarray, pacing: str) -> asyncio.Task[None]:
    job: Coroutine[Any, Any, None]
    if pacing == "clock":
        job = session.play(itertools.repeat(frame))
    else:
        job = task_pacing(session, frame)
    return asyncio.create_task(job)


async def run_step(
    conn: Connection, rx_port: int, streams: int, seconds: float, pacing: str
) -> Result:
    ports = PortAllocator(20000, 29999)
    frame = (np.sin(np.arange(160) / 3) * 4000).astype(np.int16)
    sessions = [await RtpSession.open(ports, HOST) for _ in range(streams)]
    for session in sessions:
        session.set_remote(HOST, rx_port, payload_type=0)
    tasks = [start_stream(session, frame, pacing) for session in sessions]
    await asyncio.sleep(WARMUP)
    conn.send("begin")
    cpu_start, wall_start = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (cpu_seconds() - cpu_start) / (time.monotonic() - wall_start)
    conn.send("end")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for session in sessions:
        await session.close()
    stats = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    return Result(
        pacing,
        streams,
        int(stats["packets"]),
        int(stats["lost"]),
        stats["p50"],
        stats["p99"],
        stats["max"],
        stats["spread"],
        cpu,
        int(stats["rx_drops"]),
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench(args: argparse.Namespace, conn: Connection, rx_port: int) -> list[Result]:
    results: list[Result] = []
    print(HEADER, flush=True)
    for streams in args.steps:
        for pacing in ("clock", "task") if args.pacing == "both" else (args.pacing,):
            result = await run_step(conn, rx_port, streams, args.seconds, pacing)
            print(result.row(), flush=True)
            results.append(result)
            await asyncio.sleep(0.5)
    return results


def summary(results: list[Result]) -> None:
    for pacing in sorted({r.pacing for r in results}):
        passing = [r.streams for r in results if r.pacing == pacing and r.ok]
        best = max(passing) if passing else 0
        print(f"{pacing}: highest N with p99 < {JITTER_LIMIT_MS} ms and zero loss: {best}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[100, 200, 300, 500, 700, 1000],
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pacing", choices=("clock", "task", "both"), default="both")
    parser.add_argument("--cpu", type=int, default=0, help="sender CPU; receiver gets the next")
    parser.add_argument("--no-uvloop", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    parent, child = mp.Pipe()
    receiver_cpu = (args.cpu + 1) % (os.cpu_count() or 1)
    receiver = mp.get_context("spawn").Process(target=receiver_main, args=(child, receiver_cpu))
    receiver.start()
    pin(args.cpu)
    rx_port = parent.recv()
    runner: Any = asyncio.run
    if not args.no_uvloop:
        import uvloop

        runner = uvloop.run
    try:
        results = runner(bench(args, parent, rx_port))
    finally:
        parent.send("quit")
        receiver.join(5)
    summary(results)


if __name__ == "__main__":
    main()
