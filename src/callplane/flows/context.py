"""What a node sees while a flow runs: the call (if any), the variables, the run log.

``RunContext.variables`` maps node ids to what each node set (``{"Start":
{"call": {...}}, "CallForward_1": {"dial_status": "busy", ...}}``), the mapping
``{{Node.path}}`` templates are rendered from. Every log entry carries the UTC
time, the node and an event name; the entries are the run's log as the API shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callplane.flows import templates
from callplane.store.models import FlowRun

if TYPE_CHECKING:
    import httpx

    from callplane.calls.call import Call


def now() -> datetime:
    return datetime.now(UTC)


def stamp() -> str:
    return now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class RunContext:
    run: FlowRun
    call: Call | None
    http: httpx.AsyncClient
    counters: dict[tuple[str, str], int] = field(default_factory=dict)  # (flow, name) -> count
    # the exit a node leaves by when the call ends under it (Call Forward: how the dial ended)
    exit_on_hangup: str | None = None
    hung_up: bool = False  # the call's end has already interrupted this run once

    @property
    def variables(self) -> dict[str, Any]:
        return self.run.variables

    def log(self, node: str | None, event: str, **details: Any) -> None:
        self.run.log.append({"time": stamp(), "node": node, "event": event, **details})

    def fail(self, node: str | None, message: str) -> None:
        """Log an error; the run ends as ``failed`` (the flow may still go on)."""
        self.log(node, "error", message=message)
        self.run.status = "failed"

    def set(self, node: str, values: Mapping[str, Any]) -> None:
        self.variables.setdefault(node, {}).update(values)

    def render(self, value: Any) -> Any:
        """``value`` with every ``{{Node.path}}`` in its strings (and keys) filled in."""
        if isinstance(value, str):
            return templates.render(value, self.variables)
        if isinstance(value, Mapping):
            return {self.render(str(k)): self.render(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.render(item) for item in value]
        return value
