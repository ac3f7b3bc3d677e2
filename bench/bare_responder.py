"""The ceiling: a bare asyncio UDP responder that parses an INVITE and sends 603.

It does the least any SIP server must (split headers, copy Via/From/To/Call-ID/
CSeq, add a To tag, answer ACKs with silence) and nothing else, so its calls/s
show how close Callplane gets to what Python + asyncio can do on this machine.
Run: python bench/bare_responder.py PORT
"""

from __future__ import annotations

import asyncio
import sys

COPY = (b"via", b"from", b"to", b"call-id", b"cseq")


def reply(data: bytes) -> bytes | None:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    if not head[0].startswith(b"INVITE "):
        return None
    lines = [b"SIP/2.0 603 Decline"]
    for line in head[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in COPY:
            lines.append(line + (b";tag=bare1" if name == b"to" else b""))
    lines.append(b"Content-Length: 0")
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Responder(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = reply(data)
        if answer:
            self.transport.sendto(answer, addr)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", port))
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
