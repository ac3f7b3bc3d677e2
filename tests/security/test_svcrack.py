"""SIPVicious ``svcrack`` (Debian package ``sipvicious``) against `callplane serve`.

svcrack cannot choose its source address (its ``-b`` is not passed on in the Debian
version), so it sends from 127.0.0.1 and may get that banned: it has a server of its own.
As shipped it announces itself as friendly-scanner, which the guard drops; the ban
for wrong guesses is tested with raw SIP in test_guessing.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.harness import CallplaneServer
from tests.security.peer import peer

pytestmark = pytest.mark.skipif(
    shutil.which("svcrack") is None, reason="svcrack missing: apt-get install sipvicious"
)

PASSWORD = "sesame-4711"


def test_svcrack_is_banned_before_it_reaches_the_password(tmp_path: Path) -> None:
    server = CallplaneServer(tmp_path).start()
    try:
        server.api("POST", "Endpoint/", json={"username": "victim", "password": PASSWORD})
        words = tmp_path / "words.txt"
        words.write_text("".join(f"guess{i}\n" for i in range(30)) + PASSWORD + "\n")
        command = ["svcrack", "-u", "victim", "-d", str(words), "-p", str(server.sip_port)]
        svcrack = subprocess.Popen(
            [*command, "--maximumtime", "5", "127.0.0.1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        # Unbanned, svcrack tries all 31 words at once and exits having found the password;
        # banned, it keeps asking for challenges and only ever gets 403.
        while svcrack.poll() is None and "banned 127.0.0.1" not in server.logs():
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.05)
        if svcrack.poll() is None:
            svcrack.send_signal(signal.SIGINT)
        output, _ = svcrack.communicate(timeout=30)
        assert PASSWORD not in output, output
        with peer("127.0.0.2", server.sip_port) as phone:
            listing = phone.register("victim", PASSWORD)  # lists every binding of victim
            assert listing is not None and listing.status == 200, listing
            own = f"sip:victim@127.0.0.2:{phone.port}"
        assert [str(contact.uri) for contact in listing.contacts] == [own]  # none of svcrack's
        # Stopped by one of the two defences: its User-Agent (friendly-scanner) is dropped
        # as a scanner's before any challenge, or its wrong guesses get it banned.
        refused = server.api("GET", "Security/Ban/")["refused"]
        scanner = any(r["kind"] == "scanner" and r["key"] == "127.0.0.1" for r in refused)
        banned = "banned 127.0.0.1 for 300 s: 10 failed authentications" in server.logs()
        assert scanner or banned, (refused, server.logs())
    finally:
        server.stop()
