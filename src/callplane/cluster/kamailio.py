"""The Kamailio front: its configuration rendered from the template in the repo.

``deploy/kamailio/kamailio.cfg`` holds ``{{name}}`` placeholders (Kamailio's own
syntax uses ``$``, so no ``string.Template``); ``write_config`` fills them and writes
the dispatcher list (set 1, one line per node) beside the result.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[3] / "deploy" / "kamailio" / "kamailio.cfg"
MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True)
class Front:
    """Where Kamailio listens, the nodes it spreads calls over, and its edge limits
    (``callplane serve``'s defaults: ``--pike-*``, ``--ban-seconds``, ``--auth-*``)."""

    host: str
    port: int
    nodes: Sequence[tuple[str, int]]  # SIP address of each node
    pike_window: int = 2  # seconds
    pike_threshold: int = 200  # requests per source per window; 0 = no per-source limit
    ban_seconds: int = 300
    auth_failures: int = 10  # 403s to one source's REGISTERs that ban it; 0 = never
    auth_window: int = 60  # seconds a source's failure count lives after its last failure
    probe_seconds: int = 2  # OPTIONS to every node this often
    failover_ms: int = 1500  # no reply at all from a node in this time: the next node
    setup_ms: int = 15000  # only 100 Trying, no 18x or final, in this time: the next node
    children: int = 2  # Kamailio worker processes per transport
    debug: int = 1  # Kamailio log level (1 = warnings and errors)


def modules_dir() -> Path:
    for folder in MODULE_DIRS:
        if (Path(folder) / "dispatcher.so").exists():
            return Path(folder)
    raise FileNotFoundError(f"Kamailio's modules (dispatcher.so) are not in {MODULE_DIRS}")


def kamailio_binary() -> str:
    found = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")
    if found is None:
        raise FileNotFoundError("kamailio is not installed (Debian package kamailio)")
    return found


def dispatcher_list(nodes: Sequence[tuple[str, int]]) -> str:
    """Set 1: every node, no flags, priority 0."""
    return "".join(f"1 sip:{host}:{port} 0 0\n" for host, port in nodes)


def render(front: Front, template: str, dispatcher_path: Path, modules: Path) -> str:
    values = {
        "host": front.host,
        "port": front.port,
        "modules": modules,
        "dispatcher_list": dispatcher_path,
        "limit_sources": "#!define LIMIT_SOURCES" if front.pike_threshold else "",
        "pike_window": front.pike_window,
        "pike_threshold": front.pike_threshold,
        "ban_seconds": front.ban_seconds,
        "auth_failures": front.auth_failures,
        "auth_window": front.auth_window,
        "probe_seconds": front.probe_seconds,
        "failover_ms": front.failover_ms,
        "setup_ms": front.setup_ms,
        "children": front.children,
        "debug": front.debug,
    }

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"kamailio.cfg template: unknown placeholder {match.group(0)}")
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(fill, template)


def write_config(front: Front, directory: Path, template: Path = TEMPLATE) -> Path:
    """``directory``/kamailio.cfg and its dispatcher.list; the configuration's path."""
    if not template.exists():
        raise FileNotFoundError(f"the Kamailio template is not at {template} (a source checkout)")
    directory.mkdir(parents=True, exist_ok=True)
    dispatcher_path = directory / "dispatcher.list"
    dispatcher_path.write_text(dispatcher_list(front.nodes))
    config = directory / "kamailio.cfg"
    config.write_text(render(front, template.read_text(), dispatcher_path, modules_dir()))
    return config


def command(config: Path, runtime_dir: Path) -> list[str]:
    """Kamailio in the foreground (its workers are its children), logging to stderr."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    return [
        kamailio_binary(),
        "-f",
        str(config),
        "-DD",
        "-E",
        "-m",
        "64",
        "-M",
        "8",
        "-Y",
        str(runtime_dir),
        "-P",
        str(runtime_dir / "kamailio.pid"),
    ]
