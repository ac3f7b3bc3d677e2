"""What a call, its legs and the verb executors need from the process around them.

``control/services.py``'s ``Services`` is the real one; ``tests/verbs`` runs the
executors against a fake. Flows, live-call control, limits and the call index
are not here: they belong to call control, above the call model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.calls.causes import Cause
    from callplane.calls.outbound import OutboundLegs
    from callplane.calls.records import RecordWriter
    from callplane.calls.tracer import Tracer
    from callplane.config import Settings
    from callplane.media.conference import Conferences
    from callplane.media.fetch import AudioFetcher
    from callplane.media.tts import TtsEngine
    from callplane.net.ports import PortAllocator
    from callplane.store.models import Recording
    from callplane.store.trunks import TrunkTable
    from callplane.webhooks.client import WebhookClient
    from callplane.webhooks.stream_socket import StreamConnector


class RoomHomes(Protocol):
    """Which node a conference room lives on (a cluster with a shared secret)."""

    @property
    def node(self) -> str: ...

    @property
    def secret(self) -> bytes:
        """Signs internal INVITEs (``calls/room_invite.py``)."""

    async def home_of(self, auth_id: str, name: str) -> tuple[str, int] | None:
        """The SIP address of the node that owns the room; None: this node (claimed now,
        or no other node can be reached)."""


class CallServices(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def webhooks(self) -> WebhookClient: ...

    @property
    def records(self) -> RecordWriter: ...

    @property
    def ports(self) -> PortAllocator: ...

    @property
    def tts(self) -> TtsEngine: ...

    @property
    def audio(self) -> AudioFetcher: ...

    @property
    def streams(self) -> StreamConnector:
        """Opens ``<Stream>`` WebSockets under the outbound request policy."""

    @property
    def conferences(self) -> Conferences: ...

    @property
    def trunks(self) -> TrunkTable: ...

    @property
    def tracer(self) -> Tracer:
        """The call inspector's capture (``calls/tracer.py``)."""

    @property
    def outbound(self) -> OutboundLegs | None:
        """Dial's B legs and the registrar."""

    @property
    def room_homes(self) -> RoomHomes | None:
        """Conference rooms spanning nodes; None: every room is this process's."""

    def save_recording(self, recording: Recording) -> Awaitable[object]: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; a failure is logged, never lost silently."""

    def call_ended(self, call: Call, cause: Cause) -> None:
        """The call is over: record it and tell the customer's hangup URLs."""
