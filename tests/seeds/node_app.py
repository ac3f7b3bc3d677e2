"""A seed's Node answer server (tests/seeds/examples/*.js), run as written."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.interop.harness import free_port

EXAMPLES = Path(__file__).parent / "examples"
# Every connection to anything but 127.0.0.1 is refused (tests/sdks/loopback_only.js).
LOOPBACK_ONLY = Path(__file__).parent.parent / "sdks" / "loopback_only.js"


class NodeApp:
    """``node examples/<name>`` listening on ``port`` (``PORT``), ``env`` added; its output
    kept by line."""

    def __init__(self, name: str, node_modules: Path, port: int = 0, **env: str) -> None:
        self.port = port or free_port()
        full_env = {**os.environ, "NODE_PATH": str(node_modules), "PORT": str(self.port), **env}
        self.proc = subprocess.Popen(
            ["node", "--require", str(LOOPBACK_ONLY), str(EXAMPLES / name)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait_line(lambda line: "running on port" in line)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def mark(self) -> int:
        """Where the output is now: ``wait_line(..., since=mark)`` skips what came before."""
        with self.changed:
            return len(self.lines)

    def wait_line(self, wanted: Callable[[str], bool], since: int = 0, timeout: float = 15) -> str:
        """The first output line from ``since`` on that ``wanted`` accepts, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [line for line in self.lines[since:] if wanted(line)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no such line from the app: {self.lines}")
                self.changed.wait(min(left, 0.2))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)  # the pipe is at its end once node has exited
        if self.proc.stdout is not None:
            self.proc.stdout.close()
