"""The callers of ``bench/streams.py``: one UDP socket standing in for every caller's RTP.

Its port is in the SDP of every call (SIPp ``-key caller_rtp``), so Callplane sends
every call's audio here; a call is found by its first packet (Callplane plays the
stream's silence from the moment the socket is up) and from then on gets one
160-byte PCMU packet every 20 ms (``bench/rtp_load.Stream``: the stream id and
sequence number ride in the payload; phases spread over 20 slots of 1 ms). Every
packet Callplane sends is kept with its kernel receive time: the stream it came
on, and the sequence number it carries (-1 for one that carries none of ours:
silence).
"""

from __future__ import annotations

import os
import select
import time
from array import array
from multiprocessing.connection import Connection
from typing import Any

from bench.rtp_load import (
    ANCILLARY,
    MAGIC,
    REALTIME_PRIORITY,
    SLOT_SECONDS,
    SLOTS,
    Side,
    Stream,
)
from bench.rtp_streams import arrival, pin


class CallerLoad:
    def __init__(self) -> None:
        self.side = Side.open("A")
        self.streams: list[Stream] = []
        self.slots: list[list[Stream]] = [[] for _ in range(SLOTS)]
        self.got: tuple[array[int], array[int], array[float]] = (
            array("q"),
            array("q"),
            array("d"),
        )

    def reset(self) -> None:
        self.drain()
        self.side.reset()
        self.streams.clear()
        self.slots = [[] for _ in range(SLOTS)]
        self.got = (array("q"), array("q"), array("d"))

    def drain(self) -> None:
        side = self.side
        while True:
            try:
                data, ancillary, _, addr = side.sock.recvmsg(2048, ANCILLARY)
            except BlockingIOError:
                return
            stream = side.legs.get(addr[1])
            if stream is None:
                stream = side.legs[addr[1]] = Stream(len(self.streams), "A", addr[1], side.sock)
                self.streams.append(stream)
                self.slots[stream.ident % SLOTS].append(stream)
            seq = int(data[24:32], 16) if data[12:16] == MAGIC else -1
            self.got[0].append(stream.ident)
            self.got[1].append(seq)
            self.got[2].append(arrival(ancillary, side.drops))

    def run(self, conn: Connection, calls: int, discover: float, settle: float) -> None:
        """Find ``calls`` calls (or give up after ``discover`` s), settle, tell the driver
        ``begin``, then send and receive until it says how long (``until``)."""
        self.reset()
        start = time.monotonic()
        tick = 0

        def step_until(deadline: float) -> None:
            nonlocal tick
            while (due := start + tick * SLOT_SECONDS) < deadline:
                while (timeout := due - time.monotonic()) > 0:
                    select.select([self.side.sock], [], [], timeout)
                    self.drain()
                self.drain()
                for stream in self.slots[tick % SLOTS]:
                    stream.send()
                tick += 1

        while time.monotonic() < start + discover and len(self.streams) < calls:
            step_until(time.monotonic() + 0.1)
        step_until(time.monotonic() + settle)
        conn.send(("begin", len(self.streams)))
        until = conn.recv()[1]  # wall-clock time
        step_until(time.monotonic() + max(0.0, until - time.time()))
        conn.send(("result", self.results()))

    def results(self) -> dict[str, Any]:
        return {
            "sent": [s.sent for s in self.streams],
            "got": self.got,
            "rx_drops": self.side.rx_drops,
        }


def load_main(conn: Connection, cpu: int | None, realtime: bool = False) -> None:
    """Child process entry: report the caller socket's port, then serve ``run`` commands."""
    if cpu is not None:
        pin(cpu)
    if realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
    load = CallerLoad()
    conn.send(load.side.port)
    while (command := conn.recv())[0] == "run":
        load.run(conn, *command[1:])
