"""Waiting for a call's record and trace through the REST API, before the console shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.interop.harness import CallplaneServer


def inbound_call(callplane: CallplaneServer, number: str, timeout: float = 15) -> str:
    """The uuid of the inbound call to ``number``, once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = callplane.api("GET", f"Call/?to_number={number}&call_direction=inbound")
        ended = [c for c in found["objects"] if c["call_state"] != "live"]
        if ended:
            return str(ended[0]["call_uuid"])
        time.sleep(0.05)
    raise AssertionError(f"no call record to {number}")


def wait_for_trace(
    callplane: CallplaneServer,
    uuid: str,
    ready: Callable[[dict[str, Any]], bool],
    timeout: float = 15,
) -> dict[str, Any]:
    """The call's trace, once ``ready`` holds for it (capture is written as the call ends)."""
    deadline = time.monotonic() + timeout
    trace: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            trace = callplane.api("GET", f"Call/{uuid}/Trace/")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 404:
                raise
        else:
            if ready(trace):
                return trace
        time.sleep(0.05)
    raise AssertionError(f"the trace of {uuid} never got ready: {trace}")
