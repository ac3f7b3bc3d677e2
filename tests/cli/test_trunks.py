"""``callplane trunks add|list|show|update|remove`` against a running API."""

from __future__ import annotations

from tests.api.conftest import LiveServer
from tests.cli.conftest import Run, as_json


def test_trunk_lifecycle(cli: Run, live: LiveServer) -> None:
    added = as_json(
        cli(
            "--json",
            "trunks",
            "add",
            "carrier",
            "--host",
            "192.0.2.10",
            "--transport",
            "tcp",
            "--username",
            "acme",
            "--password",
            "gateway-secret",
            "--prefixes",
            "1,44",
            "--acl",
            "192.0.2.0/24",
        )
    )
    trunk_id = added["trunk_id"]
    assert added["prefixes"] == ["1", "44"] and added["transport"] == "tcp"
    assert added["inbound_acl"] == ["192.0.2.0/24"]
    assert "carrier" in cli("trunks", "list").stdout
    shown = cli("trunks", "show", trunk_id).stdout
    assert "192.0.2.10" in shown and "gateway-secret" not in shown

    cli("trunks", "update", trunk_id, "--prefixes", "", "--caller-id", "14155550100", "--disabled")
    updated = as_json(cli("--json", "trunks", "show", trunk_id))
    assert updated["prefixes"] == [] and updated["caller_id"] == "14155550100"
    assert updated["enabled"] is False
    stored = live.run(live.store.get_trunk(live.account.auth_id, trunk_id))
    assert stored is not None and stored.password == "gateway-secret"  # untouched

    assert f"removed trunk {trunk_id}" in cli("trunks", "remove", trunk_id).stdout
    missing = cli("trunks", "show", trunk_id, ok=False)
    assert missing.exit_code == 1
    assert f"no trunk '{trunk_id}' — see `callplane trunks list`" in missing.output


def test_bad_values_are_explained(cli: Run) -> None:
    bad = cli("trunks", "add", "carrier", "--host", "192.0.2.10", "--acl", "nope", ok=False)
    assert bad.exit_code == 1 and "inbound_acl" in bad.output
    no_host = cli("trunks", "add", "carrier", ok=False)
    assert no_host.exit_code == 2 and "--host" in no_host.output
