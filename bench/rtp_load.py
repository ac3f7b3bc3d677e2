"""The audio of bridged calls, both ways, measured after Callplane's relay.

Two UDP sockets stand in for every caller and every callee: their ports go
into the SDP of all calls (SIPp ``-key``), so Callplane sends every A leg's
audio to the caller socket and every B leg's to the callee socket. A leg is
found by its first packet (symmetric RTP: Callplane sends from the port it
receives on): an A leg's comes from the answer document's ``<Wait>``, a B
leg's is the first relayed one. From then on this process sends that leg one
160-byte PCMU packet every 20 ms, the streams' phases spread over the 20 ms
(one slot per ms).

Each payload carries ``MAGIC``, the stream id and a sequence number in hex
ASCII: G.711 decoding then encoding maps every byte but 0x7F back to itself,
so they come through the bridge's transcoding intact. For the packets sent
inside the measurement window, per direction:

* loss: sent and never received on the other side;
* added jitter: |transit(n) - transit(n-1)| between consecutive sequence
  numbers, transit = kernel receive time (SO_TIMESTAMPNS) - send time (the D
  of RFC 3550 6.4.1): the variation the relay adds to a perfectly paced stream;
* latency: transit itself (send system call to kernel receive, through the relay);
* loss moments: 100 ms slices of send time holding a lost packet (many
  streams losing at one moment point to a stall, not to one stream);
* filler: packets Callplane sent that carry none of ours (silence on underrun).

``bench/bridge_calls.py`` runs this in a child process (``load_main``) pinned
to its own CPU and drives it over a pipe.
"""

from __future__ import annotations

import os
import resource
import select
import socket
import struct
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from bench.rtp_streams import SO_RCVBUFFORCE, SO_RXQ_OVFL, SO_TIMESTAMPNS, TIMESPEC, arrival, pin

HOST = "127.0.0.1"
MAGIC = b"CPBR"
PAYLOAD_BYTES = 160
FILL = b"\x55" * (PAYLOAD_BYTES - len(MAGIC) - 16)
RTP_HEADER = struct.Struct("!BBHII")
SLOTS = 20
SLOT_SECONDS = 0.001
GRACE = 0.5
REALTIME_PRIORITY = 10
LOSS_MOMENT = 0.1  # losses in one 100 ms slice of send time count as one moment
ANCILLARY = socket.CMSG_SPACE(TIMESPEC.size) + socket.CMSG_SPACE(4)
# speaker -> (label, the side that hears it)
DIRECTIONS = {"A": ("a_to_b", "B"), "B": ("b_to_a", "A")}


def payload(ident: int, seq: int) -> bytes:
    return MAGIC + b"%08x%08x" % (ident, seq) + FILL


@dataclass
class Stream:
    """What this process sends to one leg; ``origin`` is the side that speaks."""

    ident: int
    origin: str
    port: int
    sock: socket.socket
    sent: array[float] = field(default_factory=lambda: array("d"))

    def send(self) -> None:
        seq = len(self.sent)
        header = RTP_HEADER.pack(0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, self.ident)
        self.sent.append(time.time())
        self.sock.sendto(header + payload(self.ident, seq), (HOST, self.port))


@dataclass
class Side:
    """One socket standing in for every caller (A) or every callee (B)."""

    name: str
    sock: socket.socket
    rtcp: socket.socket
    legs: dict[int, Stream] = field(default_factory=dict)
    filler: int = 0
    drops: list[int] = field(default_factory=lambda: [0, 0])

    @classmethod
    def open(cls, name: str) -> Side:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        sock.bind((HOST, 0))
        sock.setblocking(False)
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp.bind((HOST, sock.getsockname()[1] + 1))  # Callplane's RTCP lands here, unread
        return cls(name, sock, rtcp)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def rx_drops(self) -> int:
        return self.drops[1] - self.drops[0]

    def reset(self) -> None:
        self.legs.clear()
        self.filler = 0
        self.drops[:] = [0, 0]


class Load:
    """Discovers legs, sends every stream on its slot, records what comes back."""

    def __init__(self) -> None:
        self.sides = {name: Side.open(name) for name in ("A", "B")}
        self.streams: list[Stream] = []
        self.slots: list[list[Stream]] = [[] for _ in range(SLOTS)]
        self.recording = False
        self.ids: array[int] = array("q")
        self.seqs: array[int] = array("q")
        self.arrivals: array[float] = array("d")

    def reset(self) -> None:
        for side in self.sides.values():
            self.drain(side)  # what the last run's calls sent after it ended
            side.reset()
        self.streams.clear()
        self.slots = [[] for _ in range(SLOTS)]
        self.ids, self.seqs, self.arrivals = array("q"), array("q"), array("d")

    def legs(self, name: str) -> int:
        return len(self.sides[name].legs)

    # -- receiving -----------------------------------------------------------------

    def drain(self, side: Side) -> None:
        while True:
            try:
                data, ancillary, _, addr = side.sock.recvmsg(2048, ANCILLARY)
            except BlockingIOError:
                return
            if addr[1] not in side.legs:
                self.discover(side, addr[1])
            if self.recording:
                self.record(side, data, arrival(ancillary, side.drops))

    def discover(self, side: Side, port: int) -> None:
        stream = Stream(len(self.streams), side.name, port, side.sock)
        side.legs[port] = stream
        self.streams.append(stream)
        self.slots[stream.ident % SLOTS].append(stream)

    def record(self, side: Side, data: bytes, when: float) -> None:
        if data[12:16] != MAGIC:
            side.filler += 1
            return
        self.ids.append(int(data[16:24], 16))
        self.seqs.append(int(data[24:32], 16))
        self.arrivals.append(when)

    def receive_until(self, deadline: float) -> None:
        """Receive on both sockets until ``deadline`` (time.monotonic)."""
        socks = [side.sock for side in self.sides.values()]
        while (timeout := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(socks, [], [], timeout)
            for side in self.sides.values():
                if side.sock in readable:
                    self.drain(side)
        for side in self.sides.values():
            self.drain(side)

    # -- one measured run ------------------------------------------------------------

    def run(
        self, conn: Connection, calls: int, seconds: float, discover: float, settle: float
    ) -> None:
        """Send until ``calls`` legs per side are found (or ``discover`` s), settle, measure."""
        self.reset()
        start = time.monotonic()
        tick = 0

        def step_until(deadline: float) -> None:
            nonlocal tick
            while (due := start + tick * SLOT_SECONDS) < deadline:
                self.receive_until(due)
                for stream in self.slots[tick % SLOTS]:
                    stream.send()
                tick += 1

        while time.monotonic() < start + discover and min(self.legs("A"), self.legs("B")) < calls:
            step_until(time.monotonic() + 0.1)
        step_until(time.monotonic() + settle)
        conn.send(("begin", self.legs("A"), self.legs("B")))
        self.recording = True
        cpu0, t0 = cpu_seconds(), time.time()
        step_until(time.monotonic() + seconds)
        t1, cpu = time.time(), cpu_seconds() - cpu0
        conn.send(("end",))
        step_until(time.monotonic() + GRACE)
        self.recording = False
        conn.send(("result", self.analyse(t0, t1) | {"load_cpu": cpu / (t1 - t0)}))

    # -- analysis --------------------------------------------------------------------

    def analyse(self, t0: float, t1: float) -> dict[str, Any]:
        sent = [np.frombuffer(s.sent, dtype=np.float64) for s in self.streams]
        sent_all = np.concatenate([*sent, np.zeros(0)])
        owner = np.repeat(np.arange(len(sent)), [len(t) for t in sent])
        ids = np.frombuffer(self.ids, dtype=np.int64)
        seqs = np.frombuffer(self.seqs, dtype=np.int64)
        index = np.cumsum([0] + [len(t) for t in sent])[ids] + seqs
        got = np.zeros(len(sent_all), dtype=bool)
        got[index] = True
        transit = np.frombuffer(self.arrivals, dtype=np.float64) - sent_all[index]
        window = (sent_all >= t0) & (sent_all <= t1)
        stats: dict[str, Any] = {"legs_a": self.legs("A"), "legs_b": self.legs("B")}
        for name, (label, hearer) in DIRECTIONS.items():
            mine = np.array([s.origin == name for s in self.streams] + [False], dtype=bool)
            lost = window & ~got & mine[owner]
            keep = window[index] & mine[ids]
            stats[label] = {
                "sent": int((window & mine[owner]).sum()),
                "lost": int(lost.sum()),
                "lossy_streams": len(np.unique(owner[lost])),
                "loss_moments": len(np.unique((sent_all[lost] - t0) // LOSS_MOMENT)),
                "filler": self.sides[hearer].filler,
            } | transit_stats(ids[keep], seqs[keep], transit[keep])
        stats["send_jitter_p99"] = pacing_p99(sent, t0, t1)
        stats["rx_drops"] = sum(side.rx_drops for side in self.sides.values())
        return stats


def transit_stats(ids: np.ndarray, seqs: np.ndarray, transit: np.ndarray) -> dict[str, float]:
    """Added jitter and latency (ms) of one direction's relayed packets."""
    order = np.lexsort((seqs, ids))
    ids, seqs, transit = ids[order], seqs[order], transit[order]
    consecutive = (np.diff(ids) == 0) & (np.diff(seqs) == 1)
    jitter = np.abs(np.diff(transit))[consecutive] * 1000
    return {
        "jitter_p50": percentile(jitter, 50),
        "jitter_p99": percentile(jitter, 99),
        "jitter_max": percentile(jitter, 100),
        "latency_p50": percentile(transit * 1000, 50),
        "latency_p99": percentile(transit * 1000, 99),
    }


def pacing_p99(sent: list[np.ndarray], t0: float, t1: float) -> float:
    """p99 of |send interval - 20 ms| in ms: how steady this process itself was."""
    gaps = [np.diff(t[(t >= t0) & (t <= t1)]) for t in sent]
    return percentile(np.abs(np.concatenate([*gaps, np.zeros(0)]) - 0.020) * 1000, 99)


def percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_main(conn: Connection, cpu: int | None, realtime: bool = False) -> None:
    """Child process entry: report the two ports, then serve ``run`` commands.

    ``realtime`` (SCHED_FIFO, needs CAP_SYS_NICE) keeps this process's own
    pacing steady on a busy machine, so that late sends do not pass for relay
    jitter; it mostly sleeps, and the kernel's RT throttling caps it anyway.
    """
    if cpu is not None:
        pin(cpu)
    if realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
    load = Load()
    conn.send((load.sides["A"].port, load.sides["B"].port))
    while (command := conn.recv())[0] == "run":
        load.run(conn, *command[1:])
