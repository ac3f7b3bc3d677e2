"""The streams benchmark runs end to end: two calls, each with a two-way stream to the
echo agent, for two seconds. Nothing here asserts on speed: only that every packet was
matched both ways and that ``clear`` left nothing queued playing."""

from __future__ import annotations

import json
import math
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


def test_two_echoed_streams_lose_nothing_and_clear_silences_them(tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    cmd = [sys.executable, str(ROOT / "bench" / "streams.py"), "--steps", "2"]
    cmd += ["--seconds", "2", "--settle", "1", "--no-pin", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (step,) = json.loads(out.read_text())
    assert step["calls"] == 2 and step["failed"] == 0 and step["streams"] == 2, step
    assert step["sent"] >= 2 * 2 * 50 * 0.9, step  # 50 packets/s per caller
    assert step["lost_in"] == 0 and step["lost_out"] == 0, step
    assert not math.isnan(step["in_p50"]) and not math.isnan(step["out_p50"]), step
    assert step["after_clear"] == 0, step
    assert "| 2 | 0 | 2 |" in proc.stdout
