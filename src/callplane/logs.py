"""Structured logging: key=value text for people, one JSON object a line for machines."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

_STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime"}

# The call a task works for: set where a call's tasks are spawned (control/router.py,
# control/originate.py), so tasks copy it and every line they log names the call.
CALL_UUID: ContextVar[str | None] = ContextVar("call_uuid", default=None)


class NodeContext(logging.Filter):
    """Adds ``node`` and, inside a call's tasks, ``call_uuid`` to every record."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node
        call_uuid = CALL_UUID.get()
        if call_uuid is not None and not hasattr(record, "call_uuid"):
            record.call_uuid = call_uuid
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return text + "".join(f" {k}={v}" for k, v in extra.items())


def setup_logging(fmt: str = "text", level: str = "INFO", node: str = "") -> None:
    """``node``: the node name JSON lines carry (with the call's UUID inside a call)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        handler.addFilter(NodeContext(node))
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations log every step
