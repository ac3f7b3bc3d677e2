"""The OpenAPI 3.1 document of the API, built from ``operations.OPERATIONS``, and a
self-contained HTML page (no scripts, no CDN) that renders it at ``/docs``."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from callplane import __version__
from callplane.api.http import Parser, flag, integer, number, text
from callplane.api.operations import OPERATIONS, Operation

BASE = "/v1/Account/{auth_id}"
_TYPES: dict[Parser, str] = {text: "string", integer: "integer", number: "number", flag: "boolean"}
_PATH_PARAM = re.compile(r"{(\w+)}")
_PAGE_PARAMS = {"limit": integer, "offset": integer}
_ERROR = {
    "type": "object",
    "properties": {
        "api_id": {"type": "string"},
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["api_id", "error"],
}
_ERRORS = {
    "400": "bad parameter: `error` names the field, `fields` maps it to what is wrong",
    "401": "bad or missing credentials, or another account's path",
    "403": "a sub-account asked for what only a main account may do",
    "404": "no such resource (or not yours)",
}


def _schema(parser: Parser) -> dict[str, Any]:
    return {"type": _TYPES.get(parser, "string")}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    path = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(BASE + op.path)
    ]
    query = {**(_PAGE_PARAMS if op.listing else {}), **op.query}
    return path + [
        {"name": name, "in": "query", "required": False, "schema": _schema(parser)}
        for name, parser in query.items()
    ]


def _body(op: Operation) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: _schema(parser) for name, parser in op.body.items()},
        "additionalProperties": False,
    }
    if op.required:
        schema["required"] = list(op.required)
    media: dict[str, Any] = {"schema": schema}
    if op.example is not None:
        media["example"] = dict(op.example)
    return {
        "required": bool(op.required),
        "content": {"application/json": media, "application/x-www-form-urlencoded": media},
    }


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "no content" if op.status == 204 else "success"}
    if op.status != 204:
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    error = {"application/json": {"schema": _ERROR}}
    errors = {code: {"description": text_, "content": error} for code, text_ in _ERRORS.items()}
    return {str(op.status): success, **errors}


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": f"{op.method.lower()}{re.sub(r'[^A-Za-z]', '', op.path) or 'Account'}",
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": _responses(op),
    }
    if op.body:
        doc["requestBody"] = _body(op)
    return doc


def build_document(operations: Iterable[Operation] = OPERATIONS) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(f"{BASE}{op.path}/", {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Callplane REST API",
            "version": __version__,
            "description": "Plivo-compatible voice API; see docs/api.md.",
        },
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
        "security": [{"basic": []}],
        "paths": paths,
    }


@cache
def document() -> dict[str, Any]:
    return build_document()


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


async def docs_page(request: Request) -> Response:
    return HTMLResponse(render_html(document()))


# -- the HTML page ----------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}
.op{margin:1.2rem 0;padding:.6rem .9rem;border:1px solid #ddd;border-radius:6px}
.m{font-weight:700;font-family:monospace;padding:0 .4rem;border-radius:3px;color:#fff}
.GET{background:#2a7}.POST{background:#27c}.DELETE{background:#c33}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.5rem;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
"""


def _param_rows(op: Mapping[str, Any]) -> list[tuple[str, str, str, bool]]:
    rows = [
        (p["name"], p["in"], p["schema"]["type"], p["required"]) for p in op.get("parameters", [])
    ]
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        needed = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            rows.append((name, "body", prop["type"], name in needed))
    return rows


def _render_op(path: str, method: str, op: Mapping[str, Any]) -> str:
    esc = html.escape
    parts = [
        f'<div class="op"><span class="m {method.upper()}">{method.upper()}</span> '
        f"<code>{esc(path)}</code> — {esc(op['summary'])}"
    ]
    rows = _param_rows(op)
    if rows:
        parts.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>")
        parts += [
            f"<tr><td><code>{esc(n)}</code></td><td>{w}</td><td>{t}</td><td>{'yes' * r}</td></tr>"
            for n, w, t, r in rows
        ]
        parts.append("</table>")
    example = (
        op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
    )
    if example is not None:
        parts.append(f"<pre>{esc(json.dumps(example, indent=2))}</pre>")
    codes = ", ".join(op["responses"])
    parts.append(f"<p>responses: {esc(codes)}</p></div>")
    return "".join(parts)


def render_html(doc: Mapping[str, Any]) -> str:
    by_tag: dict[str, list[str]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op["tags"][0], []).append(_render_op(path, method, op))
    sections = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(ops)}" for tag, ops in by_tag.items())
    info = doc["info"]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(info['title'])}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(info['title'])} "
        f"{html.escape(info['version'])}</h1><p>{html.escape(info['description'])} "
        "HTTP Basic auth (auth id + auth token or API key secret). "
        'The document: <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>'
        f"{sections}</body></html>"
    )
