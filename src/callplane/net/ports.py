"""Allocation of RTP/RTCP port pairs: RTP on an even port, RTCP on the next one."""

from __future__ import annotations

from collections import deque

from callplane.rtp.errors import RtpError


class PortsExhausted(RtpError):
    """Every RTP port pair of the configured range is in use."""


class PortAllocator:
    """Hands out even RTP ports of ``[first, last]`` (RTCP = port + 1).

    Freed ports go to the back of the queue, so a port just released is the
    last to be reused (late packets of the old call do not reach the new one).
    """

    def __init__(self, first: int = 20000, last: int = 30000) -> None:
        start = first + (first & 1)
        if not 0 < start < last <= 65535:
            raise RtpError(f"bad RTP port range {first}-{last}")
        self.first = first
        self.last = last
        self._free: deque[int] = deque(range(start, last, 2))
        self._used: set[int] = set()

    @classmethod
    def parse(cls, spec: str) -> PortAllocator:
        """``"20000-30000"`` as given to ``--rtp-ports``."""
        first, sep, last = spec.partition("-")
        try:
            return cls(int(first), int(last if sep else first))
        except ValueError as exc:
            raise RtpError(f"bad RTP port range {spec!r}, expected FIRST-LAST") from exc

    @property
    def available(self) -> int:
        return len(self._free)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def allocate(self) -> int:
        if not self._free:
            raise PortsExhausted(
                f"all {len(self._used)} RTP port pairs of {self.first}-{self.last} are in use"
            )
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        if port in self._used:
            self._used.remove(port)
            self._free.append(port)
