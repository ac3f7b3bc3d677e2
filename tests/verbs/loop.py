"""The event loop the verb tests run on: virtual time and an in-memory UDP network.

Time: ``time()`` is a counter that jumps to the next timer whenever nothing is
ready, so a 30 s ring timeout or a 20 ms playout tick costs no wall time and
every run sees the same order of events. Real readiness (the loop's self-pipe,
threads finishing ``to_thread`` work) is still polled on every turn.

Network: ``create_datagram_endpoint`` binds in a dict, not the OS; datagrams go
to whoever bound the destination (else nowhere) and are all kept in
``datagrams`` for assertions. This is how a Dial's B leg gets a real
``RtpSession`` without a socket.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Mapping
from typing import Any

Address = tuple[str, int]

TIME_LIMIT = 600.0  # virtual seconds: a test running longer is stuck, not slow
IDLE_LIMIT = 10.0  # wall seconds with no timer and nothing ready: stuck, not waiting


class StuckTest(RuntimeError):
    """Virtual time ran past ``TIME_LIMIT``: something waits for an event that never comes."""


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds
        if self.now > TIME_LIMIT:
            raise StuckTest(f"virtual time passed {TIME_LIMIT} s")


class _InstantSelector(selectors.BaseSelector):
    """The real selector, asked without blocking; an idle wait advances the clock instead."""

    def __init__(self, clock: _Clock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # no timer at all: only a thread can wake us, so really wait
            ready = self._real.select(IDLE_LIMIT)
            if not ready:
                raise StuckTest(f"nothing scheduled and nothing ready for {IDLE_LIMIT} s")
            return ready
        ready = self._real.select(0)
        if not ready and timeout > 0:
            self._clock.advance(timeout)
        return ready

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()


class MemoryDatagramTransport(asyncio.DatagramTransport):
    def __init__(
        self, loop: VirtualLoop, address: Address, protocol: asyncio.DatagramProtocol
    ) -> None:
        super().__init__()
        self._loop = loop
        self.address = address
        self._protocol = protocol
        self._closing = False

    def sendto(self, data: bytes, addr: Any = None) -> None:  # type: ignore[override]
        if self._closing:
            return
        self._loop.deliver(self.address, (addr[0], addr[1]), bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.address if name == "sockname" else default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.unbind(self.address)
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._clock = _Clock()
        super().__init__(_InstantSelector(self._clock))
        self.bound: dict[Address, asyncio.DatagramProtocol] = {}
        self.datagrams: list[tuple[Address, Address, bytes]] = []  # (from, to, data)

    def time(self) -> float:
        return self._clock.now

    async def create_datagram_endpoint(  # type: ignore[override]
        self,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        local_addr: Address | None = None,
        remote_addr: Address | None = None,
        **kwargs: Any,
    ) -> tuple[asyncio.DatagramTransport, asyncio.DatagramProtocol]:
        if local_addr is None or remote_addr is not None or kwargs:
            raise NotImplementedError("the memory network only binds local_addr=(host, port)")
        address = (local_addr[0], local_addr[1])
        if address in self.bound:
            raise OSError(f"{address} is in use")
        protocol = protocol_factory()
        transport = MemoryDatagramTransport(self, address, protocol)
        self.bound[address] = protocol
        protocol.connection_made(transport)
        return transport, protocol

    def deliver(self, source: Address, dest: Address, data: bytes) -> None:
        self.datagrams.append((source, dest, data))
        protocol = self.bound.get(dest)
        if protocol is not None:
            self.call_soon(protocol.datagram_received, data, source)

    def unbind(self, address: Address) -> None:
        self.bound.pop(address, None)
