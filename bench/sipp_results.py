"""Reading what SIPp writes with ``-trace_stat`` and ``-trace_rtt``."""

from __future__ import annotations

import csv
from pathlib import Path


def read_stat(tmp: Path, stem: str) -> tuple[int, int]:
    """(failed, successful) calls from the last line of the statistics file."""
    files = sorted(tmp.glob(f"{stem}_*_.csv"))
    if not files:
        return 0, 0
    with files[-1].open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1]
    return int(last["FailedCall(C)"]), int(last["SuccessfulCall(C)"])


def read_rtt(tmp: Path, stem: str) -> tuple[list[float], list[float]]:
    """Response times in ms of rtd 1 and of every other rtd."""
    to_100: list[float] = []
    to_final: list[float] = []
    for path in tmp.glob(f"{stem}_*_rtt.csv"):
        with path.open() as f:
            for row in csv.DictReader(f, delimiter=";"):
                value = float(row["response_time_ms"])
                (to_100 if row["rtd_no"].strip() == "1" else to_final).append(value)
    return to_100, to_final
