"""`callplane serve --host 0.0.0.0`: the INVITEs it sends name the advertised address in
Via (sent-by), as in Contact, never the wildcard it listens on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, SippUas

ADVERTISED = "127.0.0.1"


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    """Listening on every address (the later --host wins over the harness's)."""
    extra = ("--host", "0.0.0.0", "--advertised-host", ADVERTISED)
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-via"), extra=extra).start()
    yield server
    assert server.stop() == 0, server.logs()


def test_outbound_invite_via_names_the_advertised_host(
    everywhere: CallplaneServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_refuse.xml", code=486, reason="Busy Here")
    placed = httpx.post(
        f"{everywhere.api_base}Call/",
        json={"from": "14155550100", "to": callee.uri(), "answer_url": "http://127.0.0.1:9/a"},
        auth=(AUTH_ID, AUTH_TOKEN),
    )
    assert placed.status_code == 201, placed.text
    result = callee.result()
    assert result.returncode == 0, result.output
    invite = result.output[result.output.index("INVITE sip:") :]
    via = re.search(r"^Via: SIP/2.0/UDP ([^;\s]+)", invite, re.MULTILINE)
    contact = re.search(r"^Contact: <sip:(?:[^@>]*@)?([^;>]+)", invite, re.MULTILINE)
    assert via and contact, invite[:1500]
    assert via.group(1) == f"{ADVERTISED}:{everywhere.sip_port}"
    assert contact.group(1) == via.group(1)
