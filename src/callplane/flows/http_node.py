"""HTTP Request: a templated request to any URL; 2xx leaves through ``success``.

Every setting is rendered first. ``body`` as name: value pairs is sent form
encoded (as JSON when ``headers`` sets ``Content-Type: application/json``);
``body`` as text is sent as it is, as ``application/json`` unless ``headers``
says otherwise. The node sets ``response.status_code`` (0 when no response
came), ``response.text`` and, for a JSON answer, ``response.body``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from callplane.flows.context import RunContext
from callplane.flows.model import Node
from callplane.webhooks.checked_httpx import RefusedRequest
from callplane.webhooks.ssrf import REFUSED

MAX_RESPONSE = 256 * 1024  # bytes of the answer kept; the rest is not read
LOGGED_TEXT = 2000  # characters of bodies shown in the run log


async def run(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    method = settings["method"]
    url = ctx.render(settings["url"])
    headers = {str(k).strip(): str(v).strip() for k, v in ctx.render(settings["headers"]).items()}
    query = {str(k): str(v) for k, v in ctx.render(settings["query"]).items()}
    content, content_type = _body(ctx.render(settings["body"]), headers)
    if content_type and not _has(headers, "content-type"):
        headers["Content-Type"] = content_type
    shown = content.decode("utf-8", "replace")[:LOGGED_TEXT]
    ctx.log(
        node.id, "http_request", method=method, url=url, query=query, headers=headers, body=shown
    )
    try:
        status, text = await _exchange(
            ctx.http, method, url, headers, query, content, settings["timeout"]
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        refused = isinstance(exc, RefusedRequest)  # says nothing more about the target
        ctx.log(node.id, "http_error", error=REFUSED if refused else f"{type(exc).__name__}: {exc}")
        ctx.set(node.id, {"response": {"status_code": 0, "text": "", "body": {}}})
        return "failed"
    ctx.log(node.id, "http_response", status_code=status, body=text[:LOGGED_TEXT])
    ctx.set(node.id, {"response": {"status_code": status, "text": text, "body": _json(text)}})
    return "success" if 200 <= status < 300 else "failed"


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    content: bytes,
    timeout: float,
) -> tuple[int, str]:
    target = httpx.URL(url).copy_merge_params(query) if query else url  # keeps url's own query
    request = client.build_request(
        method, target, headers=headers, content=content or None, timeout=timeout
    )
    response = await client.send(request, stream=True)
    try:
        data = b""
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= MAX_RESPONSE:
                break
    finally:
        await response.aclose()
    return response.status_code, data[:MAX_RESPONSE].decode(response.encoding or "utf-8", "replace")


def _body(body: Any, headers: Mapping[str, str]) -> tuple[bytes, str]:
    """The bytes to send and their content type ("" when there is nothing to send)."""
    if isinstance(body, str):
        return (body.encode(), "application/json") if body else (b"", "")
    if not body:
        return b"", ""
    if "json" in _header(headers, "content-type"):
        return json.dumps(body).encode(), "application/json"
    pairs = {str(k): "" if v is None else str(v) for k, v in body.items()}
    return urlencode(pairs).encode(), "application/x-www-form-urlencoded"


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((value.lower() for key, value in headers.items() if key.lower() == name), "")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}
