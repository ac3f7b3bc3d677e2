"""Live-call routes without a call layer: they answer 503, after authentication.

The routes with running calls are tested end to end, with a real phone, in
tests/interop/test_live_api.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import LiveServer


def test_without_live_calls_the_control_paths_answer_503(tmp_path: Path) -> None:
    server = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        creds = (server.account.auth_id, server.account.auth_token)
        base = f"{server.base_uri}/{server.account.auth_id}"
        with httpx.Client(base_url=base, auth=creds) as http:
            for method, path in [
                ("GET", "/Call/?status=live"),
                ("GET", "/Call/a/?status=live"),
                ("DELETE", "/Call/a/"),
                ("POST", "/Call/a/Speak/"),
            ]:
                response = http.request(method, path)
                assert response.status_code == 503, (method, path)
                assert "not available" in response.json()["error"]
            assert http.get("/Call/").status_code == 200  # call records still answer
            assert httpx.delete(f"{base}/Call/a/").status_code == 401  # auth first
    finally:
        server.stop()
