"""A tiny authoritative DNS server on loopback for resolver tests (no internet needed).

``DnsServer.start(records)`` answers over UDP from ``records``: {(name, type):
[(ttl, rdata text)]}; a name with no records at all is NXDOMAIN, a known name
without the asked type is an empty answer. ``queries`` counts the questions.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Records = dict[tuple[str, str], list[tuple[int, str]]]


class DnsServer(asyncio.DatagramProtocol):
    def __init__(self, records: Records) -> None:
        self.records = {(n.lower().rstrip("."), t): v for (n, t), v in records.items()}
        self.queries: Counter[tuple[str, str]] = Counter()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def start(cls, records: Records, host: str = "127.0.0.1") -> DnsServer:
        loop = asyncio.get_running_loop()
        _, server = await loop.create_datagram_endpoint(lambda: cls(records), local_addr=(host, 0))
        return server

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, rdtype)] += 1
        if not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        for ttl, text in self.records.get((name, rdtype), []):
            rdata = dns.rdata.from_text(dns.rdataclass.IN, question.rdtype, text)
            rrset = response.find_rrset(
                response.answer, question.name, dns.rdataclass.IN, question.rdtype, create=True
            )
            rrset.update_ttl(ttl)
            rrset.add(rdata)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ThreadedDnsServer:
    """A DnsServer on an event loop of its own thread, for tests that are not async."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.server: DnsServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="test-dns", daemon=True)
        self._ready = threading.Event()

    def start(self) -> ThreadedDnsServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test DNS server did not start")
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.address

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.server = self._loop.run_until_complete(DnsServer.start(self.records))
        self._ready.set()
        self._loop.run_forever()
        self.server.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
