"""``/console`` serving: the built files with the single-page fallback, or a page that
says how to build them."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette

from callplane.api import console

INDEX = "<!doctype html><div id=root></div>"


def _client(static: Path) -> httpx.AsyncClient:
    app = Starlette(routes=console.routes(static))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


async def test_built_console_answers_index_for_its_own_paths(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    async with _client(tmp_path) as client:
        assert (await client.get("/console")).headers["location"] == "/console/"
        for path in ("/console/", "/console/flows/FL123", "/console/calls/abc-def"):
            found = await client.get(path)
            assert (found.status_code, found.text) == (200, INDEX), path
        script = await client.get("/console/assets/app.js")
        assert script.text == "console.log(1)"
        assert "javascript" in script.headers["content-type"]
        assert (await client.get("/console/assets/gone.js")).status_code == 404


async def test_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        for path in ("/console", "/console/", "/console/flows/FL123"):
            found = await client.get(path)
            assert found.status_code == 200, path  # a page, not a server error
            assert "cd console &amp;&amp; npm ci &amp;&amp; npm run build" in found.text
            assert found.headers["content-type"].startswith("text/html")
        script = await client.get("/console/assets/app.js")
        assert script.status_code == 404 and "npm run build" in script.text
