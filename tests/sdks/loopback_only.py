"""Runs a script (``python loopback_only.py script.py``) with every network connection
and name lookup that is not for 127.0.0.1 refused before it is attempted, and reported
on stderr as "blocked"."""

from __future__ import annotations

import runpy
import socket
import sys
from typing import Any

_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _refuse(host: object) -> None:
    print(f"blocked: a connection to {host}", file=sys.stderr)
    raise ConnectionRefusedError(f"blocked: {host} is not loopback")


def _checked_connect(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
        _refuse(address[0])
    _connect(sock, address)


def _checked_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in ("127.0.0.1", b"127.0.0.1"):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _checked_connect  # type: ignore[method-assign]
socket.getaddrinfo = _checked_getaddrinfo
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
