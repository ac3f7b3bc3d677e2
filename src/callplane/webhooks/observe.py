"""Who watches a webhook request (the call inspector, issue 16), without the webhooks
layer knowing about calls.

A call's task sets :data:`OBSERVER` to its trace; the requests made in that task
(and in the tasks it spawns) report to it. Nothing is formatted here: the
observer gets the request as it goes out and each attempt's raw outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Protocol


class RequestWatch(Protocol):
    """One request being watched: its attempts, then how it ended."""

    def attempt(
        self,
        started: float,
        latency: float,
        status: int | None,
        error: str | None,
        content_type: str,
        body: bytes,
    ) -> None:
        """``started``: wall-clock seconds; ``latency``: seconds; ``body``: as received."""

    def done(self, outcome: str) -> None:
        """``ok``, ``failed`` or ``queued`` (a callback left for the outbox worker)."""


class WebhookObserver(Protocol):
    def request(
        self,
        kind: str,
        method: str,
        url: str,
        form: Mapping[str, list[str]],
        body: bytes,
        content_type: str,
        signed: bool,
    ) -> RequestWatch | None: ...


OBSERVER: ContextVar[WebhookObserver | None] = ContextVar("webhook_observer", default=None)
