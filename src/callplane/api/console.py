"""``/console``: the web console's built files (``console/`` at the repository root
builds them into ``callplane/console_static/``).

The console is a single-page app with its own paths (``/console/flows/...``), so
any path that is not a file gets ``index.html``. Without a build, every console
page answers 200 with a page that says how to make one (the server is fine: the
console is optional), and a file path (``/console/assets/app.js``) 404 with it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent.parent / "console_static"
NOT_BUILT = """<!doctype html>
<title>Callplane console not built</title>
<h1>The console is not built</h1>
<p>Build it once, then restart <code>callplane serve</code>:</p>
<pre>cd console &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>The files go to <code>{path}</code>.</p>
"""


class SinglePageFiles(StaticFiles):
    """Static files; a missing path without a file extension gets ``index.html``."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)


async def _to_console(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


async def _not_built(request: Request) -> Response:
    is_file = "." in request.url.path.rsplit("/", 1)[-1]
    return HTMLResponse(NOT_BUILT.format(path=STATIC), status_code=404 if is_file else 200)


def routes(static: Path = STATIC) -> list[BaseRoute]:
    """The console's routes: its files, or the "not built" page."""
    if not (static / "index.html").is_file():
        return [Route("/console", _not_built), Route("/console/{rest:path}", _not_built)]
    return [
        Route("/console", _to_console),
        Mount("/console", app=SinglePageFiles(directory=static, html=True), name="console"),
    ]
