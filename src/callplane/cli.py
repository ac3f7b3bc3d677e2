"""The ``callplane`` command: ``serve``, and commands that configure a running server.

Configuration commands speak the REST API (so the server validates everything
once); credentials come from --auth-id/--auth-token, the CALLPLANE_AUTH_ID /
CALLPLANE_AUTH_TOKEN environment, or the credentials file that ``serve``
writes into its data directory on first start.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from callplane import __version__

REJECT_REASONS = [
    "rejected",
    "busy",
    "forbidden",
    "anonymity_disallowed",
    "address_incomplete",
    "no_route",
    "service_unavailable",
    "unwanted",
]
METHODS = click.Choice(["GET", "POST"], case_sensitive=False)


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
        kind = path.strip("/").split("/")[0].lower()
        return f"no such {kind}: {path} — see `callplane {kind}s list`"
    if isinstance(error, dict):
        return "; ".join(f"{field}: {msg}" for field, msg in error.items())
    return str(error)


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


def show(api: Api, payload: dict[str, Any], columns: list[str]) -> None:
    if api.as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    rows = payload.get("objects", [payload])
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)


@click.group()
@click.version_option(__version__)
@click.option(
    "--api-url",
    envvar="CALLPLANE_API_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Where `callplane serve` answers HTTP.",
)
@click.option("--auth-id", envvar="CALLPLANE_AUTH_ID", default="", help="Account auth id.")
@click.option("--auth-token", envvar="CALLPLANE_AUTH_TOKEN", default="", help="Auth token.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("callplane-data"),
    show_default=True,
    help="Where serve keeps its database and credentials.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def main(
    ctx: click.Context, api_url: str, auth_id: str, auth_token: str, data_dir: Path, as_json: bool
) -> None:
    """Callplane: a self-hosted programmable voice platform."""
    ctx.obj = {
        "api_url": api_url,
        "auth_id": auth_id,
        "auth_token": auth_token,
        "data_dir": data_dir,
        "as_json": as_json,
    }


def api_of(ctx: click.Context) -> Api:
    o = ctx.find_root().obj
    auth_id, token = o["auth_id"], o["auth_token"]
    if not (auth_id and token):
        auth_id, token = load_credentials(o["data_dir"])
    return Api(o["api_url"], auth_id, token, o["as_json"])


@main.command()
@click.option("--sip-port", default=5060, show_default=True, help="SIP port (UDP and TCP).")
@click.option("--http-port", default=8080, show_default=True, help="REST API port.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--advertised-host", default="", help="Address for Contact/SDP (default: --host).")
@click.option("--database-url", default="", help="SQLAlchemy URL (default: SQLite in data dir).")
@click.option(
    "--answer-timeout", default=5.0, show_default=True, help="Seconds to wait for an answer URL."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def serve(
    ctx: click.Context,
    sip_port: int,
    http_port: int,
    host: str,
    advertised_host: str,
    database_url: str,
    answer_timeout: float,
    log_format: str,
    log_level: str,
) -> None:
    """Run Callplane: SIP on --sip-port, the REST API on --http-port."""
    from callplane.config import Settings
    from callplane.logs import setup_logging
    from callplane.server import run_server

    setup_logging(log_format, log_level)
    settings = Settings(
        data_dir=ctx.find_root().obj["data_dir"],
        sip_host=host,
        sip_port=sip_port,
        http_host=host,
        http_port=http_port,
        database_url=database_url,
        advertised_host=advertised_host,
        answer_timeout=answer_timeout,
        log_format=log_format,
    )
    sys.exit(run_server(settings))


# -- applications ---------------------------------------------------------------------------

APP_COLUMNS = ["app_id", "app_name", "answer_url", "hangup_url", "max_concurrent_calls"]


@main.group()
def apps() -> None:
    """Applications: where calls to your numbers get their answer document."""


def app_options(create: bool):
    def wrap(f):
        opts = [
            click.option("--name", "app_name", required=create, help="Application name."),
            click.option("--answer-url", required=create, help="URL returning the document."),
            click.option("--answer-method", type=METHODS),
            click.option("--fallback-answer-url"),
            click.option("--fallback-method", type=METHODS),
            click.option("--hangup-url", help="Notified with Plivo's hangup parameters."),
            click.option("--hangup-method", type=METHODS),
            click.option("--status-callback-url", help="Receives JSON events (call-rejected)."),
            click.option(
                "--dialect",
                type=click.Choice(["plivo", "twiml", "voxml"]),
                help="Pin the markup dialect instead of detecting it.",
            ),
            click.option("--max-concurrent-calls", type=int, help="0 = unlimited."),
        ]
        for opt in reversed(opts):
            f = opt(f)
        return f

    return wrap


@apps.command("create")
@app_options(create=True)
@click.pass_context
def apps_create(ctx: click.Context, **fields: Any) -> None:
    """Create an application; prints its app_id."""
    api = api_of(ctx)
    show(api, api.call("POST", "Application/", fields), ["app_id", "message"])


@apps.command("update")
@click.argument("app_id")
@app_options(create=False)
@click.pass_context
def apps_update(ctx: click.Context, app_id: str, **fields: Any) -> None:
    """Change fields of an application."""
    api = api_of(ctx)
    show(api, api.call("POST", f"Application/{app_id}/", fields), ["message"])


@apps.command("list")
@click.pass_context
def apps_list(ctx: click.Context) -> None:
    """List applications."""
    api = api_of(ctx)
    show(api, api.call("GET", "Application/", params={"limit": 20}), APP_COLUMNS)


@apps.command("show")
@click.argument("app_id")
@click.pass_context
def apps_show(ctx: click.Context, app_id: str) -> None:
    """Show one application."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Application/{app_id}/"), [*APP_COLUMNS, "fallback_answer_url"])


@apps.command("delete")
@click.argument("app_id")
@click.pass_context
def apps_delete(ctx: click.Context, app_id: str) -> None:
    """Delete an application."""
    api_of(ctx).call("DELETE", f"Application/{app_id}/")
    click.echo(f"deleted application {app_id}")


# -- numbers --------------------------------------------------------------------------------

NUMBER_COLUMNS = ["number", "application", "alias", "carrier", "region", "max_concurrent_calls"]


@main.group()
def numbers() -> None:
    """Numbers from your own carrier, each routed to an application."""


@numbers.command("add")
@click.argument("numbers_")
@click.option("--app", "app_id", help="Application to route calls to.")
@click.option("--carrier", default="own", show_default=True)
@click.option("--region", default="", help="Region label.")
@click.pass_context
def numbers_add(
    ctx: click.Context, numbers_: str, app_id: str | None, carrier: str, region: str
) -> None:
    """Add NUMBERS (E.164, comma-separated)."""
    api = api_of(ctx)
    body = {"numbers": numbers_, "carrier": carrier, "region": region, "app_id": app_id}
    show(api, api.call("POST", "Number/", body), ["message"])


@numbers.command("update")
@click.argument("number")
@click.option("--app", "app_id", help="Application to route calls to.")
@click.option("--alias")
@click.option("--max-concurrent-calls", type=int, help="0 = unlimited.")
@click.pass_context
def numbers_update(
    ctx: click.Context,
    number: str,
    app_id: str | None,
    alias: str | None,
    max_concurrent_calls: int | None,
) -> None:
    """Assign NUMBER to an application, or change its alias or call cap."""
    api = api_of(ctx)
    body = {"app_id": app_id, "alias": alias, "max_concurrent_calls": max_concurrent_calls}
    show(api, api.call("POST", f"Number/{number.lstrip('+')}/", body), ["message"])


@numbers.command("list")
@click.pass_context
def numbers_list(ctx: click.Context) -> None:
    """List numbers."""
    api = api_of(ctx)
    show(api, api.call("GET", "Number/", params={"limit": 20}), NUMBER_COLUMNS)


@numbers.command("delete")
@click.argument("number")
@click.pass_context
def numbers_delete(ctx: click.Context, number: str) -> None:
    """Remove NUMBER."""
    api_of(ctx).call("DELETE", f"Number/{number.lstrip('+')}/")
    click.echo(f"deleted number {number}")


# -- screening ------------------------------------------------------------------------------


@main.group()
def blocklist() -> None:
    """Refuse callers without a webhook: exact numbers, prefixes, anonymous callers."""


@blocklist.command("add")
@click.argument("pattern", default="")
@click.option(
    "--match",
    type=click.Choice(["exact", "prefix", "anonymous"]),
    default="exact",
    show_default=True,
)
@click.option(
    "--reason",
    type=click.Choice(REJECT_REASONS),
    default="rejected",
    show_default=True,
    help="How the call is refused (SIP code per reason).",
)
@click.option("--number", help="Apply to this number only.")
@click.option("--app", "app_id", help="Apply to every number of this application.")
@click.pass_context
def blocklist_add(
    ctx: click.Context,
    pattern: str,
    match: str,
    reason: str,
    number: str | None,
    app_id: str | None,
) -> None:
    """Block callers matching PATTERN (digits; omit with --match anonymous)."""
    api = api_of(ctx)
    body = {
        "pattern": pattern,
        "match": match,
        "reason": reason,
        "number": number,
        "app_id": app_id,
    }
    show(api, api.call("POST", "Blocklist/", body), ["rule_id", "message"])


@blocklist.command("list")
@click.pass_context
def blocklist_list(ctx: click.Context) -> None:
    """List block rules."""
    api = api_of(ctx)
    show(
        api,
        api.call("GET", "Blocklist/"),
        ["rule_id", "match", "pattern", "reason", "number", "app_id"],
    )


@blocklist.command("delete")
@click.argument("rule_id")
@click.pass_context
def blocklist_delete(ctx: click.Context, rule_id: str) -> None:
    """Delete a block rule."""
    api_of(ctx).call("DELETE", f"Blocklist/{rule_id}/")
    click.echo(f"deleted rule {rule_id}")


# -- account and calls ----------------------------------------------------------------------


@main.group()
def account() -> None:
    """Your account: name and inbound calls-per-second limit."""


@account.command("show")
@click.pass_context
def account_show(ctx: click.Context) -> None:
    """Show the account."""
    api = api_of(ctx)
    show(api, api.call("GET", ""), ["auth_id", "name", "inbound_cps"])


@account.command("update")
@click.option("--name")
@click.option("--inbound-cps", type=float, help="Inbound calls/s; excess refused 486.")
@click.pass_context
def account_update(ctx: click.Context, name: str | None, inbound_cps: float | None) -> None:
    """Change the account."""
    api = api_of(ctx)
    show(api, api.call("POST", "", {"name": name, "inbound_cps": inbound_cps}), ["message"])


CALL_COLUMNS = [
    "call_uuid",
    "from_number",
    "to_number",
    "call_status",
    "hangup_cause_name",
    "bill_duration",
    "end_time",
]


@main.group()
def calls() -> None:
    """Call records."""


@calls.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def calls_list(ctx: click.Context, limit: int, offset: int) -> None:
    """List call records, newest first."""
    api = api_of(ctx)
    show(api, api.call("GET", "Call/", params={"limit": limit, "offset": offset}), CALL_COLUMNS)


@calls.command("show")
@click.argument("call_uuid")
@click.pass_context
def calls_show(ctx: click.Context, call_uuid: str) -> None:
    """Show one call record with its log."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Call/{call_uuid}/"), [*CALL_COLUMNS, "hangup_source", "error"])
