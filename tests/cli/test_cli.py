"""Every command group of the CLI against a running server, tables and --json."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from callplane.cli import main
from callplane.store.models import CallRecord
from tests.api.conftest import LiveServer
from tests.cli.conftest import Run, as_json


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=lambda p: " ".join(p) or "main")
def test_help_works_for_every_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_apps_and_clear_not_found_errors(cli: Run) -> None:
    created = as_json(cli("--json", "apps", "create", "--name", "ivr", "--answer-url", "http://a/"))
    assert "ivr" in cli("apps", "list").stdout
    assert created["app_id"] in cli("apps", "show", created["app_id"]).stdout
    missing = cli("apps", "show", "abc", ok=False)
    assert missing.exit_code == 1
    assert "no application 'abc' — see `callplane apps list`" in missing.output


def test_accounts_and_subaccounts(cli: Run, live: LiveServer) -> None:
    cli("accounts", "update", "--name", "Acme", "--city", "Berlin", "--rate-per-minute", "0.01")
    shown = as_json(cli("--json", "accounts", "show"))
    assert (shown["name"], shown["city"], shown["rate_per_minute"]) == ("Acme", "Berlin", "0.01000")
    assert "Berlin" in cli("accounts", "show").stdout
    sub = as_json(cli("--json", "accounts", "subaccounts", "create", "Wayne"))
    assert sub["auth_id"] in cli("accounts", "subaccounts", "list").stdout
    cli("accounts", "subaccounts", "update", sub["auth_id"], "--disabled")
    detail = as_json(cli("--json", "accounts", "subaccounts", "show", sub["auth_id"]))
    assert detail["enabled"] is False and detail["private_networks"] == "deny"
    cli("accounts", "subaccounts", "update", sub["auth_id"], "--private-networks", "allow")
    detail = as_json(cli("--json", "accounts", "subaccounts", "show", sub["auth_id"]))
    assert detail["private_networks"] == "allow"
    lan = as_json(
        cli("--json", "accounts", "subaccounts", "create", "Lan", "--private-networks", "allow")
    )
    assert live.run(live.store.get_account(lan["auth_id"])).private_networks is True
    assert "deleted" in cli("accounts", "subaccounts", "delete", sub["auth_id"], "--cascade").stdout
    gone = cli("accounts", "subaccounts", "show", sub["auth_id"], ok=False)
    assert "no sub-account" in gone.output and "callplane accounts subaccounts list" in gone.output


def test_rotate_token(cli: Run, live: LiveServer) -> None:
    result = cli("accounts", "rotate-token")
    token = result.stdout.split("new auth token: ")[1].split()[0]
    account = live.run(live.store.get_account(live.account.auth_id))
    assert account is not None and account.auth_token == token
    stale = cli("accounts", "show", ok=False)
    assert "authentication failed" in stale.output
    assert cli("accounts", "show", auth=(live.account.auth_id, token)).exit_code == 0


def test_endpoints(cli: Run) -> None:
    created = as_json(
        cli("--json", "endpoints", "create", "alice", "--password", "s3cret-pass", "--alias", "A")
    )
    endpoint_id = created["endpoint_id"]
    assert "sip:alice@127.0.0.1" in cli("endpoints", "list").stdout
    cli("endpoints", "update", endpoint_id, "--alias", "Alice")
    assert as_json(cli("--json", "endpoints", "show", endpoint_id))["alias"] == "Alice"
    cli("endpoints", "delete", endpoint_id)
    assert "no endpoint" in cli("endpoints", "show", endpoint_id, ok=False).output
    short = cli("endpoints", "create", "bob", "--password", "x", ok=False)
    assert "password: must be at least 8 characters" in short.output


def test_keys(cli: Run, live: LiveServer) -> None:
    key = as_json(cli("--json", "keys", "create", "ci"))
    assert "ci" in cli("keys", "list").stdout
    assert cli("accounts", "show", auth=(live.account.auth_id, key["secret"])).exit_code == 0
    cli("keys", "revoke", key["key_id"])
    assert "no API key" in cli("keys", "revoke", key["key_id"], ok=False).output


def _record(live: LiveServer, uuid: str, bill: int, direction: str = "inbound") -> CallRecord:
    start = datetime(2025, 3, 1, 12, tzinfo=UTC)
    return CallRecord(
        uuid,
        live.account.auth_id,
        "4930111",
        "4930222",
        call_direction=direction,
        state="ended",
        call_status="completed",
        initiation_time=start,
        answer_time=start,
        end_time=start,
        bill_duration=bill,
        billed_duration=bill,
        total_amount="0.01000",
    )


def test_calls_filters_and_usage(cli: Run, live: LiveServer) -> None:
    records = [_record(live, "c-short", 5), _record(live, "c-long", 300, "outbound")]
    live.run(live.store.write_records(records))
    assert "c-long" in cli("calls", "list").stdout
    long_only = as_json(cli("--json", "calls", "list", "--min-bill-duration", "60"))
    assert [c["call_uuid"] for c in long_only["objects"]] == ["c-long"]
    inbound = as_json(cli("--json", "calls", "list", "--direction", "inbound"))
    assert [c["call_uuid"] for c in inbound["objects"]] == ["c-short"]
    ended = as_json(cli("--json", "calls", "list", "--ended-after", "2025-03-02"))
    assert ended["objects"] == []
    assert "c-short" in cli("calls", "show", "c-short").stdout
    table = cli("usage", "--from", "2025-03-01", "--to", "2025-03-01").stdout
    assert "2025-03-01" in table and "total" in table
    usage = as_json(cli("--json", "usage", "--from", "2025-03-01", "--to", "2025-03-31"))
    assert usage["totals"]["calls"] == 2 and usage["totals"]["cost"] == "0.02000"
    bad = cli("calls", "list", "--ended-after", "soon", ok=False)
    assert "end_time__gte" in bad.output


def test_numbers_and_blocklist_still_work(cli: Run) -> None:
    cli("numbers", "add", "+14155550100")
    assert "14155550100" in cli("numbers", "list").stdout
    rule = as_json(cli("--json", "blocklist", "add", "1900", "--match", "prefix"))
    assert rule["rule_id"] in cli("blocklist", "list").stdout
    cli("blocklist", "delete", rule["rule_id"])
    cli("numbers", "delete", "14155550100")
