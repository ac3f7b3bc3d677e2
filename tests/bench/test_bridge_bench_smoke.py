"""The bridged-calls benchmark runs end to end: two calls for three seconds.

As root the load tool and the server run SCHED_FIFO (``--realtime*``), so a
busy shared machine cannot stall them past the bridge's 40 ms queue; relay
loss then means the bridge lost packets. Nothing here asserts on speed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed"),
]


@pytest.mark.serial
def test_two_bridged_calls_relay_every_packet_both_ways(tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    cmd = [sys.executable, str(ROOT / "bench" / "bridge_calls.py"), "--steps", "2"]
    cmd += ["--seconds", "3", "--settle", "1", "--no-pin", "--json", str(out)]
    if os.geteuid() == 0:
        cmd += ["--realtime", "--realtime-server"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (step,) = json.loads(out.read_text())
    assert step["calls"] == 2 and step["failed"] == 0 and step["legs"] == 4, step
    assert step["sent"] >= 2 * 2 * 3 * 50 * 0.9, step  # both ways, 50 packets/s per leg
    assert step["lost_ab"] == 0 and step["lost_ba"] == 0, step
    assert "| 2 | 0 | 4 |" in proc.stdout
