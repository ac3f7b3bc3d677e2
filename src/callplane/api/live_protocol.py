"""What the REST API needs from the running calls (implemented by ``control/live.py``).

Every method takes the caller's ``auth_id``: a call of another account is
"not found" (``None``/``False``), never "forbidden", so uuids do not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callplane.markup.verbs import Document
from callplane.store.models import CallRecord


class LiveCalls(Protocol):
    def list(self, auth_id: str) -> list[CallRecord]:
        """Snapshots of the account's live calls, newest first."""
        ...

    def get(self, auth_id: str, call_uuid: str) -> CallRecord | None: ...

    async def hangup(self, auth_id: str, call_uuid: str) -> bool:
        """BYE (answered) or a refusal (ringing); False if no such live call."""
        ...

    async def transfer(self, auth_id: str, call_uuid: str, url: str, method: str) -> bool:
        """Stop the current document and run the one fetched from ``url``."""
        ...

    async def transfer_inline(self, auth_id: str, call_uuid: str, document: Document) -> bool:
        """Stop the current document and run ``document`` (Twilio's ``Twiml``)."""
        ...

    async def play(
        self,
        auth_id: str,
        call_uuid: str,
        urls: Sequence[str],
        *,
        loop: bool,
        length: int | None,
        mix: bool,
    ) -> bool:
        """Play the audio URLs on the call (mixed over its current audio when ``mix``)."""
        ...

    async def speak(
        self,
        auth_id: str,
        call_uuid: str,
        text: str,
        *,
        voice: str,
        language: str,
        loop: bool,
        mix: bool,
    ) -> bool: ...

    async def stop_audio(self, auth_id: str, call_uuid: str) -> bool:
        """Stop what ``play``/``speak`` started."""
        ...

    async def send_digits(self, auth_id: str, call_uuid: str, digits: str) -> bool: ...
