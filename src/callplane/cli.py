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
import time
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
}


def not_found_text(path: str) -> str:
    """``no application 'abc' — see `callplane apps list```."""
    parts = path.strip("/").split("/")
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
    api = Api(o["api_url"], auth_id, token, o["as_json"])
    ctx.call_on_close(api.client.close)
    return api


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
@click.option(
    "--rtp-ports",
    default="20000-30000",
    show_default=True,
    help="UDP port range for call audio (RTP on even ports, RTCP on the next).",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--trunk-only",
    is_flag=True,
    help="Take inbound calls only from trunks (ACL or digest); others get 403.",
)
@click.option("--dns-server", default="", help="ip[:port],... for SIP names (else resolv.conf).")
@click.option("--sip-tcp-timeout", default=10.0, help="Seconds a TCP client has to send a message.")
@click.option("--sip-tcp-idle-timeout", default=600.0, help="Seconds an idle SIP/TCP link lives.")
@click.option("--sip-tcp-max-per-ip", default=32, help="SIP/TCP connections from one IP address.")
@click.option("--sip-tcp-max", default=2048, help="SIP/TCP connections in all.")
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
    rtp_ports: str,
    log_level: str,
    trunk_only: bool,
    dns_server: str,
    sip_tcp_timeout: float,
    sip_tcp_idle_timeout: float,
    sip_tcp_max_per_ip: int,
    sip_tcp_max: int,
) -> None:
    """Run Callplane: SIP on --sip-port, the REST API on --http-port."""
    from callplane.config import Settings
    from callplane.logs import setup_logging
    from callplane.net.resolver import parse_nameservers
    from callplane.server import run_server

    setup_logging(log_format, log_level)
    try:
        parse_nameservers(dns_server)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dns-server") from exc
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
        rtp_ports=rtp_ports,
        trunk_only=trunk_only,
        dns_servers=dns_server,
        sip_tcp_first_message_timeout=sip_tcp_timeout,
        sip_tcp_idle_timeout=sip_tcp_idle_timeout,
        sip_tcp_max_per_source=sip_tcp_max_per_ip,
        sip_tcp_max_connections=sip_tcp_max,
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
@click.option("--flow", "flow_id", help='Published flow to run instead ("" unassigns).')
@click.option("--alias")
@click.option("--max-concurrent-calls", type=int, help="0 = unlimited.")
@click.pass_context
def numbers_update(
    ctx: click.Context,
    number: str,
    app_id: str | None,
    flow_id: str | None,
    alias: str | None,
    max_concurrent_calls: int | None,
) -> None:
    """Assign NUMBER to an application or a flow, or change its alias or call cap."""
    api = api_of(ctx)
    body = {"app_id": app_id, "alias": alias, "max_concurrent_calls": max_concurrent_calls}
    body["flow_id"] = flow_id
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


@calls.command("show")
@click.argument("call_uuid")
@click.pass_context
def calls_show(ctx: click.Context, call_uuid: str) -> None:
    """Show one call record with its log."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Call/{call_uuid}/"), [*CALL_COLUMNS, "hangup_source", "error"])


def _range_params(pairs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pairs.items() if v is not None and v != ""}


@calls.command("list")
@click.option("--direction", "call_direction", type=click.Choice(["inbound", "outbound"]))
@click.option("--from", "from_number", help="Caller number.")
@click.option("--to", "to_number", help="Called number.")
@click.option("--status", type=click.Choice(["live", "ended"]))
@click.option("--call-status", help="completed, busy, no-answer, failed...")
@click.option("--hangup-source")
@click.option("--hangup-cause-code", type=int)
@click.option("--bill-duration", type=int, help="Exactly this many billed seconds.")
@click.option("--min-bill-duration", type=int, help="At least (bill_duration__gte).")
@click.option("--max-bill-duration", type=int, help="At most (bill_duration__lte).")
@click.option("--ended-after", help="end_time__gte, 'YYYY-MM-DD[ HH:MM[:ss]]' UTC.")
@click.option("--ended-before", help="end_time__lt, 'YYYY-MM-DD[ HH:MM[:ss]]' UTC.")
@click.option("--subaccount", help="A sub-account's records (main account only).")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def calls_list(ctx: click.Context, **options: Any) -> None:
    """List call records, newest first, with Plivo's filters."""
    api = api_of(ctx)
    renames = {
        "min_bill_duration": "bill_duration__gte",
        "max_bill_duration": "bill_duration__lte",
        "ended_after": "end_time__gte",
        "ended_before": "end_time__lt",
    }
    params = _range_params({renames.get(k, k): v for k, v in options.items()})
    show(api, api.call("GET", "Call/", params=params), CALL_COLUMNS)


@calls.command("live")
@click.pass_context
def calls_live(ctx: click.Context) -> None:
    """List the calls running now."""
    api = api_of(ctx)
    uuids = api.call("GET", "Call/", params={"status": "live"}).get("calls", [])
    rows = [api.call("GET", f"Call/{uuid}/", params={"status": "live"}) for uuid in uuids]
    show(api, {"objects": rows}, ["call_uuid", "from", "to", "call_status", "session_start"])


@calls.command("hangup")
@click.argument("call_uuid")
@click.pass_context
def calls_hangup(ctx: click.Context, call_uuid: str) -> None:
    """Hang up a live call."""
    api_of(ctx).call("DELETE", f"Call/{call_uuid}/")
    click.echo(f"hung up {call_uuid}")


RECORDING_COLUMNS = [
    "recording_id",
    "call_uuid",
    "recording_format",
    "recording_duration_ms",
    "add_time",
]


@main.group()
def recordings() -> None:
    """Recordings made by <Record>."""


@recordings.command("list")
@click.option("--call", "call_uuid", help="Only this call's recordings.")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def recordings_list(ctx: click.Context, call_uuid: str | None, limit: int, offset: int) -> None:
    """List recordings, newest first."""
    api = api_of(ctx)
    params = _range_params({"call_uuid": call_uuid, "limit": limit, "offset": offset})
    show(api, api.call("GET", "Recording/", params=params), RECORDING_COLUMNS)


@recordings.command("show")
@click.argument("recording_id")
@click.pass_context
def recordings_show(ctx: click.Context, recording_id: str) -> None:
    """Show one recording and its URL."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Recording/{recording_id}/"), [*RECORDING_COLUMNS, "recording_url"])


@recordings.command("delete")
@click.argument("recording_id")
@click.pass_context
def recordings_delete(ctx: click.Context, recording_id: str) -> None:
    """Delete a recording and its file."""
    api_of(ctx).call("DELETE", f"Recording/{recording_id}/")
    click.echo(f"deleted recording {recording_id}")


@main.group("call")
def call_group() -> None:
    """Place test calls."""


@call_group.command("simulate")
@click.option("--from", "from_number", default="14155550100", show_default=True)
@click.option("--to", "to_number", required=True, help="A number routed on this server.")
@click.option("--sip-host", default="127.0.0.1", show_default=True)
@click.option("--sip-port", default=5060, show_default=True)
@click.option("--digits", default="", help="DTMF to send 1 s after answer (RFC 4733).")
@click.option(
    "--hangup-after",
    default=10.0,
    show_default=True,
    help="Seconds before the caller hangs up, if Callplane has not.",
)
@click.pass_context
def call_simulate(
    ctx: click.Context,
    from_number: str,
    to_number: str,
    sip_host: str,
    sip_port: int,
    digits: str,
    hangup_after: float,
) -> None:
    """Place a real SIP call to this server and print what happened."""
    import asyncio

    from callplane.simulate import simulate

    result = asyncio.run(
        simulate(
            (sip_host, sip_port),
            from_number.lstrip("+"),
            to_number.lstrip("+"),
            hangup_after=hangup_after,
            digits=digits,
            report=click.echo,
        )
    )
    if result.answered:
        click.echo(
            f"heard {result.audio_seconds:.1f} s of audio "
            f"({result.loud_frames * 0.02:.1f} s not silent); "
            f"hung up by {result.hung_up_by}"
        )
    _print_call_record(ctx, from_number.lstrip("+"), to_number.lstrip("+"))


def _print_call_record(ctx: click.Context, from_number: str, to_number: str) -> None:
    """The newest record of this caller and number: cause, webhooks' errors, call log."""
    import time

    api = api_of(ctx)
    time.sleep(0.3)  # the record is written within 50 ms of the call's end
    found = api.call(
        "GET", "Call/", params={"from_number": from_number, "to_number": to_number, "limit": 1}
    )
    if not found.get("objects"):
        click.echo("no call record (an unknown number is refused 404 before any account)")
        return
    record = found["objects"][0]
    click.echo(
        f"call {record['call_uuid']}: {record['call_status']}, "
        f"{record['hangup_cause_name']} ({record['hangup_source']}), "
        f"SIP {record.get('sip_response_code')}"
    )
    for event in record.get("events") or []:
        click.echo(f"  {event['time']} {event['level']}: {event['message']}")


# -- accounts, sub-accounts, keys, usage ----------------------------------------------------

ACCOUNT_COLUMNS = ["auth_id", "name", "city", "address", "rate_per_minute", "billing_interval"]
SUB_COLUMNS = ["auth_id", "name", "enabled", "rate_per_minute", "created"]


@main.group()
def accounts() -> None:
    """The account: profile, pricing, auth token, and its sub-accounts."""


@accounts.command("show")
@click.pass_context
def accounts_show(ctx: click.Context) -> None:
    """Show the account (never the auth token)."""
    api = api_of(ctx)
    show(api, api.call("GET", ""), [*ACCOUNT_COLUMNS, "inbound_cps"])


@accounts.command("update")
@click.option("--name")
@click.option("--city")
@click.option("--address")
@click.option("--inbound-cps", type=float, help="Inbound calls/s; excess refused 486.")
@click.option("--rate-per-minute", help="Price per minute, e.g. 0.0120 (main account).")
@click.option("--billing-interval", type=int, help="Seconds per billed increment.")
@click.pass_context
def accounts_update(ctx: click.Context, **fields: Any) -> None:
    """Change the account's profile, limits or pricing."""
    api = api_of(ctx)
    show(api, api.call("POST", "", fields), ["message"])


@accounts.command("rotate-token")
@click.pass_context
def accounts_rotate_token(ctx: click.Context) -> None:
    """Replace the auth token; prints the new one (API keys keep working)."""
    api = api_of(ctx)
    payload = api.call("POST", "AuthToken/")
    saved = _update_credentials_file(ctx, payload["auth_id"], payload["auth_token"])
    if api.as_json:
        show(api, payload, [])
        return
    click.echo(f"new auth token: {payload['auth_token']}")
    if saved:
        click.echo(f"(saved in {saved})")


def _update_credentials_file(ctx: click.Context, auth_id: str, token: str) -> Path | None:
    """Keep serve's credentials file working when it holds the rotated account."""
    path: Path = ctx.find_root().obj["data_dir"] / "credentials.json"
    if not path.exists() or json.loads(path.read_text()).get("auth_id") != auth_id:
        return None
    path.write_text(json.dumps({"auth_id": auth_id, "auth_token": token}))
    return path


@accounts.group()
def subaccounts() -> None:
    """Sub-accounts: isolated accounts with their own auth id and token."""


@subaccounts.command("create")
@click.argument("name")
@click.option("--enabled/--disabled", default=True, show_default=True)
@click.pass_context
def subaccounts_create(ctx: click.Context, name: str, enabled: bool) -> None:
    """Create a sub-account; prints its auth id and token."""
    api = api_of(ctx)
    body = {"name": name, "enabled": enabled}
    show(api, api.call("POST", "Subaccount/", body), ["auth_id", "auth_token", "message"])


@subaccounts.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def subaccounts_list(ctx: click.Context, limit: int, offset: int) -> None:
    """List sub-accounts."""
    api = api_of(ctx)
    params = {"limit": limit, "offset": offset}
    show(api, api.call("GET", "Subaccount/", params=params), SUB_COLUMNS)


@subaccounts.command("show")
@click.argument("auth_id")
@click.pass_context
def subaccounts_show(ctx: click.Context, auth_id: str) -> None:
    """Show one sub-account, with its auth token."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Subaccount/{auth_id}/"), [*SUB_COLUMNS, "auth_token"])


@subaccounts.command("update")
@click.argument("auth_id")
@click.option("--name")
@click.option("--enabled/--disabled", default=None)
@click.option("--rate-per-minute")
@click.option("--billing-interval", type=int)
@click.pass_context
def subaccounts_update(ctx: click.Context, auth_id: str, **fields: Any) -> None:
    """Rename, enable/disable or re-price a sub-account."""
    api = api_of(ctx)
    show(api, api.call("POST", f"Subaccount/{auth_id}/", fields), ["message"])


@subaccounts.command("delete")
@click.argument("auth_id")
@click.option("--cascade", is_flag=True, help="Delete its apps, numbers, endpoints too.")
@click.pass_context
def subaccounts_delete(ctx: click.Context, auth_id: str, cascade: bool) -> None:
    """Delete a sub-account (its resources move to you unless --cascade)."""
    api_of(ctx).call("DELETE", f"Subaccount/{auth_id}/", {"cascade": cascade})
    click.echo(f"deleted sub-account {auth_id}")


@main.group()
def keys() -> None:
    """API keys: named secrets that authenticate like the auth token."""


@keys.command("create")
@click.argument("name")
@click.pass_context
def keys_create(ctx: click.Context, name: str) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    api = api_of(ctx)
    show(api, api.call("POST", "ApiKey/", {"name": name}), ["key_id", "name", "secret"])


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List keys (never their secrets)."""
    api = api_of(ctx)
    show(api, api.call("GET", "ApiKey/"), ["key_id", "name", "created"])


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key at once."""
    api_of(ctx).call("DELETE", f"ApiKey/{key_id}/")
    click.echo(f"revoked key {key_id}")


USAGE_COLUMNS = [
    "period",
    "calls",
    "answered_calls",
    "rejected_calls",
    "billed_minutes",
    "cost",
]


@main.command()
@click.option("--period", type=click.Choice(["day", "month"]), default="day", show_default=True)
@click.option("--from", "from_", help="First day, YYYY-MM-DD (default: 30 days ago).")
@click.option("--to", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option("--subaccount", help="A sub-account's usage (main account only).")
@click.pass_context
def usage(
    ctx: click.Context, period: str, from_: str | None, to: str | None, subaccount: str | None
) -> None:
    """Calls, billed minutes and cost per day or month."""
    api = api_of(ctx)
    params = _range_params({"period": period, "from": from_, "to": to, "subaccount": subaccount})
    payload = api.call("GET", "Usage/", params=params)
    if api.as_json:
        show(api, payload, [])
        return
    show(api, {"objects": [*payload["objects"], payload["totals"]]}, USAGE_COLUMNS)


# -- SIP endpoints --------------------------------------------------------------------------

ENDPOINT_COLUMNS = ["endpoint_id", "username", "alias", "sip_uri", "application"]


@main.group()
def endpoints() -> None:
    """SIP endpoints: username/password devices that register and are dialled with <User>."""


@endpoints.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--alias", default="", help="Display name.")
@click.option("--app", "app_id", help="Application for calls from this endpoint.")
@click.option("--subaccount", help="Create it for this sub-account.")
@click.pass_context
def endpoints_create(ctx: click.Context, username: str, **fields: Any) -> None:
    """Create an endpoint; the password is stored only as a digest."""
    api = api_of(ctx)
    body = {"username": username, **fields}
    show(api, api.call("POST", "Endpoint/", body), ["endpoint_id", "username", "message"])


@endpoints.command("list")
@click.option("--subaccount", help="A sub-account's endpoints.")
@click.pass_context
def endpoints_list(ctx: click.Context, subaccount: str | None) -> None:
    """List endpoints."""
    api = api_of(ctx)
    params = _range_params({"subaccount": subaccount})
    show(api, api.call("GET", "Endpoint/", params=params), ENDPOINT_COLUMNS)


@endpoints.command("show")
@click.argument("endpoint_id")
@click.pass_context
def endpoints_show(ctx: click.Context, endpoint_id: str) -> None:
    """Show one endpoint."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Endpoint/{endpoint_id}/"), ENDPOINT_COLUMNS)


@endpoints.command("update")
@click.argument("endpoint_id")
@click.option("--password")
@click.option("--alias")
@click.option("--app", "app_id", help="Application ('' to unassign).")
@click.pass_context
def endpoints_update(ctx: click.Context, endpoint_id: str, **fields: Any) -> None:
    """Change an endpoint's password, alias or application."""
    api = api_of(ctx)
    show(api, api.call("POST", f"Endpoint/{endpoint_id}/", fields), ["message"])


@endpoints.command("delete")
@click.argument("endpoint_id")
@click.pass_context
def endpoints_delete(ctx: click.Context, endpoint_id: str) -> None:
    """Delete an endpoint."""
    api_of(ctx).call("DELETE", f"Endpoint/{endpoint_id}/")
    click.echo(f"deleted endpoint {endpoint_id}")


# -- SIP trunks -----------------------------------------------------------------------------

TRUNK_COLUMNS = ["trunk_id", "name", "host", "port", "transport", "prefixes", "priority", "enabled"]


def trunk_options(create: bool):
    """The options ``trunks add`` and ``trunks update`` share; lists are comma-separated."""

    def wrap(f):
        options = [
            click.option("--host", required=create, help="Gateway IP address or host name."),
            click.option("--port", type=int, help="Gateway port (default 5060; 0: from DNS SRV)."),
            click.option("--transport", type=click.Choice(["udp", "tcp"]), help="Default udp."),
            click.option("--username", help="User for the gateway's 401/407 challenges."),
            click.option("--password", help="Password for the gateway's challenges."),
            click.option("--prefixes", help="Number prefixes this trunk serves ('' = all)."),
            click.option("--strip-digits", type=int, help="Leading digits to remove."),
            click.option("--add-prefix", help="Digits to put in front after stripping."),
            click.option("--caller-id", help="Fixed caller id ('' keeps the Dial's)."),
            click.option("--acl", "inbound_acl", help="IPs/CIDRs whose INVITEs are this trunk."),
            click.option("--inbound-username", help="Digest user the trunk sends INVITEs as."),
            click.option("--inbound-password", help="Digest password for --inbound-username."),
            click.option("--priority", type=int, help="Lower is tried first among equals."),
            click.option("--enabled/--disabled", default=None, help="Route through it or not."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return wrap


def _trunk_body(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@main.group()
def trunks() -> None:
    """SIP trunks: gateways <Number> dials go out through, and trusted inbound peers."""


@trunks.command("add")
@click.argument("name")
@trunk_options(create=True)
@click.pass_context
def trunks_add(ctx: click.Context, name: str, **fields: Any) -> None:
    """Add a trunk called NAME."""
    api = api_of(ctx)
    body = {"name": name, **_trunk_body(fields)}
    show(api, api.call("POST", "Trunk/", body), ["trunk_id", "name", "message"])


@trunks.command("list")
@click.pass_context
def trunks_list(ctx: click.Context) -> None:
    """List trunks (passwords are never shown)."""
    api = api_of(ctx)
    show(api, api.call("GET", "Trunk/"), TRUNK_COLUMNS)


@trunks.command("show")
@click.argument("trunk_id")
@click.pass_context
def trunks_show(ctx: click.Context, trunk_id: str) -> None:
    """Show one trunk."""
    api = api_of(ctx)
    columns = [*TRUNK_COLUMNS, "username", "caller_id", "inbound_acl", "inbound_username"]
    show(api, api.call("GET", f"Trunk/{trunk_id}/"), columns)


@trunks.command("update")
@click.argument("trunk_id")
@click.option("--name", help="New name.")
@trunk_options(create=False)
@click.pass_context
def trunks_update(ctx: click.Context, trunk_id: str, **fields: Any) -> None:
    """Change a trunk; options not given stay as they are."""
    api = api_of(ctx)
    show(api, api.call("POST", f"Trunk/{trunk_id}/", _trunk_body(fields)), ["message"])


@trunks.command("remove")
@click.argument("trunk_id")
@click.pass_context
def trunks_remove(ctx: click.Context, trunk_id: str) -> None:
    """Remove a trunk."""
    api_of(ctx).call("DELETE", f"Trunk/{trunk_id}/")
    click.echo(f"removed trunk {trunk_id}")


# -- flows ----------------------------------------------------------------------------------

FLOW_COLUMNS = ["flow_id", "name", "published_version", "updated"]


@main.group()
def flows() -> None:
    """Visual call flows (like Plivo PHLO): import, export, validate, publish."""


def _flow_file(path: Path) -> dict[str, Any]:
    from callplane.flows import Flow, FlowError

    try:
        return Flow.loads(path.read_bytes()).to_dict()
    except FlowError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    return [f"{p['node']}: {p['message']}" if p["node"] else p["message"] for p in problems]


@flows.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "flow_id", help="Replace this flow's draft instead of creating a flow.")
@click.option("--name", help="Flow name (default: the document's).")
@click.pass_context
def flows_import(ctx: click.Context, file: Path, flow_id: str | None, name: str | None) -> None:
    """Create a flow from a JSON FILE (a draft: publish it when it validates)."""
    body = {"document": _flow_file(file), "name": name}
    api = api_of(ctx)
    path = f"Flow/{flow_id}/" if flow_id else "Flow/"
    show(api, api.call("POST", path, body), ["flow_id", "name", "message"])


@flows.command("export")
@click.argument("flow_id")
@click.option("--version", type=int, help="A published version instead of the draft.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.pass_context
def flows_export(
    ctx: click.Context, flow_id: str, version: int | None, output: Path | None
) -> None:
    """Print a flow's document as JSON (the file `flows import` reads)."""
    from callplane.flows import Flow

    path = f"Flow/{flow_id}/" + (f"Version/{version}/" if version else "")
    text = Flow.parse(api_of(ctx).call("GET", path)["document"]).dumps()
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"wrote {output}", err=True)


@flows.command("validate")
@click.argument("flow")
@click.pass_context
def flows_validate(ctx: click.Context, flow: str) -> None:
    """Validate FLOW: a JSON file (checked locally, no server needed) or a flow id (its
    draft, checked by the server). Exits 1 when there are problems."""
    from callplane.flows import Flow, validate

    if Path(flow).is_file():
        problems = [p.to_dict() for p in validate(Flow.parse(_flow_file(Path(flow))))]
    else:
        problems = api_of(ctx).call("POST", f"Flow/{flow}/Validate/")["errors"]
    if ctx.find_root().obj["as_json"]:
        click.echo(json.dumps({"valid": not problems, "errors": problems}, indent=2))
    else:
        click.echo("\n".join(_problem_lines(problems)) or "valid")
    if problems:
        ctx.exit(1)


@flows.command("list")
@click.pass_context
def flows_list(ctx: click.Context) -> None:
    """List flows with their newest published version."""
    api = api_of(ctx)
    show(api, api.call("GET", "Flow/", params={"limit": 20}), FLOW_COLUMNS)


@flows.command("publish")
@click.argument("flow_id")
@click.pass_context
def flows_publish(ctx: click.Context, flow_id: str) -> None:
    """Validate a flow's draft and publish it as the next version."""
    api = api_of(ctx)
    payload = api.call("POST", f"Flow/{flow_id}/Publish/")
    if api.as_json:
        show(api, payload, [])
        return
    click.echo(f"published version {payload['version']} of flow {flow_id}")


@flows.command("versions")
@click.argument("flow_id")
@click.pass_context
def flows_versions(ctx: click.Context, flow_id: str) -> None:
    """List a flow's published versions, newest first."""
    api = api_of(ctx)
    show(api, api.call("GET", f"Flow/{flow_id}/Version/"), ["version", "published"])


@flows.command("delete")
@click.argument("flow_id")
@click.pass_context
def flows_delete(ctx: click.Context, flow_id: str) -> None:
    """Delete a flow and its published versions."""
    api_of(ctx).call("DELETE", f"Flow/{flow_id}/")
    click.echo(f"deleted flow {flow_id}")


# -- flow runs -------------------------------------------------------------------------

RUN_COLUMNS = ["run_id", "trigger", "run_status", "version", "call_uuid", "started", "ended"]


def _param(ctx: click.Context, option: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", ctx, option)
        pairs[name] = text
    return pairs


@flows.command("run")
@click.argument("flow_id")
@click.option(
    "-p",
    "--param",
    "payload",
    multiple=True,
    callback=_param,
    help="NAME=VALUE, a {{Start.http.params.NAME}} of the run (repeatable).",
)
@click.option("--wait", is_flag=True, help="Wait for the run to end and print its log.")
@click.pass_context
def flows_run(ctx: click.Context, flow_id: str, payload: dict[str, str], wait: bool) -> None:
    """Run FLOW_ID's newest published version from its API Request trigger."""
    api = api_of(ctx)
    started = api.call("POST", f"Flow/{flow_id}/Run/", payload)
    if not wait:
        show(api, started, ["run_id", "run_status", "message"])
        return
    run = _finished_run(api, flow_id, started["run_id"])
    _show_run(api, run)


def _finished_run(api: Api, flow_id: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = api.call("GET", f"Flow/{flow_id}/Run/{run_id}/")
        if run["run_status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def _show_run(api: Api, run: dict[str, Any]) -> None:
    if api.as_json:
        click.echo(json.dumps(run, indent=2, default=str))
        return
    click.echo(f"run {run['run_id']}: {run['run_status']} ({run['trigger']})")
    for entry in run["log"]:
        details = {k: v for k, v in entry.items() if k not in ("time", "node", "event")}
        shown = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in details.items())
        click.echo(f"{entry['time']}  {entry['node'] or '-':<16} {entry['event']:<14} {shown}")


@flows.command("runs")
@click.argument("flow_id")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.pass_context
def flows_runs(ctx: click.Context, flow_id: str, limit: int, offset: int) -> None:
    """List FLOW_ID's runs, newest first."""
    api = api_of(ctx)
    page = api.call("GET", f"Flow/{flow_id}/Run/", params={"limit": limit, "offset": offset})
    show(api, page, RUN_COLUMNS)


@flows.command("run-log")
@click.argument("flow_id")
@click.argument("run_id")
@click.pass_context
def flows_run_log(ctx: click.Context, flow_id: str, run_id: str) -> None:
    """Print one run's log: nodes, exits, variables, HTTP requests, dial outcomes."""
    api = api_of(ctx)
    _show_run(api, api.call("GET", f"Flow/{flow_id}/Run/{run_id}/"))


@flows.command("assign")
@click.argument("number")
@click.argument("flow_id")
@click.pass_context
def flows_assign(ctx: click.Context, number: str, flow_id: str) -> None:
    """Answer NUMBER with FLOW_ID's newest published version (\"\" unassigns)."""
    api = api_of(ctx)
    show(api, api.call("POST", f"Number/{number.lstrip('+')}/", {"flow_id": flow_id}), ["message"])
