"""`callplane flows` against a running server: import, export, validate, list, publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from callplane.cli import main
from callplane.flows import Flow
from tests.cli.conftest import Run, as_json
from tests.flows.examples import changed, dial_status, reject_calls


def _file(tmp_path: Path, doc: dict[str, Any], name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_import_export_publish(cli: Run, tmp_path: Path) -> None:
    created = as_json(cli("--json", "flows", "import", _file(tmp_path, dial_status())))
    flow_id = created["flow_id"]
    assert created["name"] == "dial status reporting"
    assert flow_id in cli("flows", "list").stdout
    exported = cli("flows", "export", flow_id).stdout
    assert exported == Flow.parse(dial_status()).dumps()
    assert cli("flows", "validate", flow_id).stdout == "valid\n"
    assert cli("flows", "publish", flow_id).stdout == f"published version 1 of flow {flow_id}\n"
    cli("flows", "import", _file(tmp_path, reject_calls()), "--id", flow_id, "--name", "v2")
    assert as_json(cli("--json", "flows", "publish", flow_id))["version"] == 2
    out = tmp_path / "v1.json"
    cli("flows", "export", flow_id, "--version", "1", "-o", str(out))
    assert json.loads(out.read_text()) == dial_status()
    assert "v2" in cli("flows", "list").stdout
    assert "2" in cli("flows", "versions", flow_id).stdout
    assert "deleted flow" in cli("flows", "delete", flow_id).stdout
    assert f"no flow '{flow_id}'" in cli("flows", "export", flow_id, ok=False).output


def test_validate_a_file_without_a_server(tmp_path: Path) -> None:
    broken = changed(dial_status(), "CallForward_1", to=None)
    result = CliRunner().invoke(main, ["flows", "validate", _file(tmp_path, broken)])
    assert result.exit_code == 1
    assert result.stdout == "CallForward_1: settings.to: required\n"
    good = CliRunner().invoke(main, ["--json", "flows", "validate", _file(tmp_path, dial_status())])
    assert good.exit_code == 0 and json.loads(good.stdout) == {"valid": True, "errors": []}


def test_publish_reports_every_problem(cli: Run, tmp_path: Path) -> None:
    doc = dial_status()
    doc["edges"] = [e for e in doc["edges"] if e["exit"] != "failed"]
    flow_id = as_json(cli("--json", "flows", "import", _file(tmp_path, doc)))["flow_id"]
    result = cli("flows", "publish", flow_id, ok=False)
    assert result.exit_code == 1
    assert "HTTPRequest_4: not reachable from Start" in result.output
    checked = cli("--json", "flows", "validate", flow_id, ok=False)
    assert checked.exit_code == 1
    assert as_json(checked)["errors"][0] == {
        "node": "HTTPRequest_4",
        "message": "not reachable from Start",
    }


def test_import_rejects_a_malformed_file(cli: Run, tmp_path: Path) -> None:
    result = cli("flows", "import", _file(tmp_path, {"schema": 1}), ok=False)
    assert result.exit_code == 1 and "name: must be a non-empty string" in result.output
