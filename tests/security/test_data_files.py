"""Issue 12, finding 8: what `callplane serve` keeps on disk is readable by its user only.

The data directory 0700; the database, its -wal/-shm files, credentials.json and
recordings 0600 - also when the process runs under a permissive umask (022, as the
test does) and when an older version left them readable.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.harness import CallplaneServer, WebhookServer, sipp

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp missing")

SECRET_FILES = ("callplane.db", "callplane.db-wal", "callplane.db-shm", "credentials.json")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def recordings(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "recordings").rglob("*") if p.is_file()]


def record_a_call(callplane: CallplaneServer, web: WebhookServer, workdir: Path) -> None:
    """One answered call whose session is recorded; returns once the file exists."""
    document = (
        '<Response><Record recordSession="true" fileFormat="wav"/><Wait length="1"/></Response>'
    )
    number = "15558340001"
    callplane.number(number, callplane.application(web.set("/record", document)))
    caller = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    deadline = time.monotonic() + 10
    while not recordings(callplane.data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_serve_keeps_its_files_private(permissive_umask: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    web = WebhookServer().start()
    callplane = CallplaneServer(data_dir).start()
    try:
        record_a_call(callplane, web, tmp_path)
        assert mode(data_dir) == 0o700
        for name in SECRET_FILES:
            assert mode(data_dir / name) == 0o600, name
        [recording] = recordings(data_dir)
        assert mode(recording) == 0o600
        for folder in (data_dir / "recordings", recording.parent):
            assert mode(folder) == 0o700, folder
    finally:
        assert callplane.stop() == 0, callplane.logs()
        web.stop()


def test_serve_tightens_what_an_older_version_left_readable(
    permissive_umask: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    web = WebhookServer().start()
    callplane = CallplaneServer(data_dir).start()
    record_a_call(callplane, web, tmp_path)
    assert callplane.stop() == 0, callplane.logs()
    loose = [data_dir, *(data_dir / "recordings").rglob("*")]
    loose += [data_dir / name for name in SECRET_FILES if (data_dir / name).exists()]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)
    callplane.start()
    try:
        for path in loose:
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    finally:
        assert callplane.stop() == 0, callplane.logs()
        web.stop()
