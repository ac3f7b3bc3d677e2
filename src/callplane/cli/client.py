"""How configuration commands reach a running server: the REST API client, credentials,
error texts and the table (or --json) every command prints."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table


class Api:
    def __init__(self, url: str, auth_id: str, auth_token: str, as_json: bool) -> None:
        self.base = f"{url.rstrip('/')}/v1/Account/{auth_id}"
        self.client = httpx.Client(auth=(auth_id, auth_token), timeout=30)
        self.as_json = as_json

    def call(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {k: v for k, v in (data or {}).items() if v is not None}
        try:
            response = self.client.request(
                method, f"{self.base}/{path}", json=body or None, params=params
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"cannot reach the Callplane API at {self.base}: {exc}. "
                "Is `callplane serve` running? Set --api-url if it listens elsewhere."
            ) from exc
        if response.status_code == 204:
            return {}
        payload = response.json() if response.content else {}
        if response.status_code >= 400:
            raise click.ClickException(error_text(response.status_code, payload, path))
        return payload


def error_text(status: int, payload: dict[str, Any], path: str) -> str:
    error = payload.get("error", payload)
    if status == 401:
        return (
            "authentication failed: check --auth-id/--auth-token "
            "(or CALLPLANE_AUTH_ID/CALLPLANE_AUTH_TOKEN)"
        )
    if status == 404:
        return not_found_text(path)
    if isinstance(error, dict):
        return "; ".join(f"{field}: {msg}" for field, msg in error.items())
    return str(error)


# Path segment -> (what it is, the command that lists them).
RESOURCES = {
    "Application": ("application", "apps"),
    "Number": ("number", "numbers"),
    "Blocklist": ("block rule", "blocklist"),
    "Call": ("call", "calls"),
    "Endpoint": ("endpoint", "endpoints"),
    "Subaccount": ("sub-account", "accounts subaccounts"),
    "ApiKey": ("API key", "keys"),
    "Trunk": ("trunk", "trunks"),
    "Security/Ban": ("ban of", "security bans"),
}


def not_found_text(path: str) -> str:
    """``no application 'abc' — see `callplane apps list```."""
    parts = path.strip("/").split("/")
    if "/".join(parts[:2]) in RESOURCES:
        parts[:2] = ["/".join(parts[:2])]
    noun, command = RESOURCES.get(parts[0], (parts[0].lower() or "account", ""))
    ident = f" '{parts[1]}'" if len(parts) > 1 else ""
    hint = f" — see `callplane {command} list`" if command else ""
    return f"no {noun}{ident}{hint}"


def load_credentials(data_dir: Path) -> tuple[str, str]:
    auth_id = os.environ.get("CALLPLANE_AUTH_ID", "")
    token = os.environ.get("CALLPLANE_AUTH_TOKEN", "")
    if auth_id and token:
        return auth_id, token
    path = data_dir / "credentials.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return stored["auth_id"], stored["auth_token"]
    raise click.ClickException(
        f"no credentials: pass --auth-id and --auth-token, set CALLPLANE_AUTH_ID and "
        f"CALLPLANE_AUTH_TOKEN, or run this where `callplane serve` keeps {path}"
    )


def api_of(ctx: click.Context) -> Api:
    o = ctx.find_root().obj
    auth_id, token = o["auth_id"], o["auth_token"]
    if not (auth_id and token):
        auth_id, token = load_credentials(o["data_dir"])
    api = Api(o["api_url"], auth_id, token, o["as_json"])
    ctx.call_on_close(api.client.close)
    return api


def show(api: Api, payload: dict[str, Any], columns: list[str]) -> None:
    if api.as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    rows = payload.get("objects", [payload])
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)


def given(pairs: dict[str, Any]) -> dict[str, Any]:
    """The query parameters whose option was given (not None, not empty)."""
    return {k: v for k, v in pairs.items() if v is not None and v != ""}
