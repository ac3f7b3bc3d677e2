"""This node's state for probes and draining (docs/operations.md).

Ready means taking calls: SIP is bound and the node is not draining. ``drain()``
(SIGTERM, ``POST .../Node/Drain/``) is one-way: from then on new INVITEs and
SIP OPTIONS probes get 503, and ``callplane serve`` waits for live calls to end
(``server.py``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Node:
    name: str
    drain_timeout: float = 3600.0
    sip_bound: bool = False
    draining: bool = False
    drain_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ready(self) -> bool:
        return self.sip_bound and not self.draining

    @property
    def state(self) -> str:
        return "draining" if self.draining else "ready" if self.sip_bound else "starting"

    def drain(self) -> bool:
        """Start draining; False if it had started already."""
        if self.draining:
            return False
        self.draining = True
        self.drain_requested.set()
        return True
