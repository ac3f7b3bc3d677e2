"""The official Node SDK (``plivo`` on npm) against a real `callplane serve`: a PHLO run
without a payload (plivo-node sends the JSON body ``""``) and the text of an API error
(plivo-node shows ``body.error`` as the message). The SDK is tests/sdks' (.ci/run
installs it), else installed here; skipped without node/npm, or when the package
cannot be installed (no registry)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.test_flow_runs_api import finished_run, notify_flow, published

SDK_MODULES = Path(__file__).parent.parent / "sdks" / "node_modules"
SCRIPT = """
const plivo = require("plivo");
const [base, authId, authToken, flowId, draftId] = process.argv.slice(2);
const report = (what, value) => console.log(JSON.stringify({ what, ...value }));
(async () => {
  const phlo = new plivo.PhloClient(authId, authToken, { url: base + "/v1" });
  try {
    const run = await phlo.phlo(flowId).run();
    report("run", { ok: true, phloId: run.phloId, message: run.message });
  } catch (err) {
    report("run", { ok: false, message: String(err.message), status: err.status || null });
  }
  try {
    await phlo.phlo(draftId).run({ order: "A-1" });
    report("draft", { ok: true });
  } catch (err) {
    report("draft", { ok: false, message: err.message, type: typeof err.message });
  }
})();
"""


@pytest.fixture(scope="module")
def plivo_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the script and plivo: tests/sdks/node_modules (installed by .ci/run),
    else plivo@4 installed there."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    home = tmp_path_factory.mktemp("plivo-node")
    (home / "seed.js").write_text(SCRIPT)
    if (SDK_MODULES / "plivo").is_dir():
        (home / "node_modules").symlink_to(SDK_MODULES)
        return home
    try:
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "plivo@4"],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm install plivo took more than 180 s")
    if installed.returncode != 0:
        pytest.skip(f"npm install plivo failed: {installed.stderr[-500:]}")
    return home


def run_node(
    home: Path, callplane: CallplaneServer, flow_id: str, draft_id: str
) -> dict[str, dict[str, Any]]:
    base = f"http://127.0.0.1:{callplane.http_port}"
    done = subprocess.run(
        ["node", "seed.js", base, AUTH_ID, AUTH_TOKEN, flow_id, draft_id],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {report["what"]: report for report in reports}


def test_node_sdk_runs_a_phlo_without_payload_and_reads_errors_as_text(
    plivo_node: Path, callplane: CallplaneServer, web: WebhookServer
) -> None:
    flow_id = published(callplane, notify_flow(web.url("/notify/node")))
    draft = callplane.api("POST", "Flow/", json={"document": notify_flow(web.url("/draft"))})
    reports = run_node(plivo_node, callplane, flow_id, draft["flow_id"])

    assert reports["run"]["ok"], reports["run"]
    assert reports["run"]["phloId"] == flow_id
    assert reports["run"]["message"] == "flow 'notify' version 1 started"
    request = web.wait_for("/notify/node")[0]
    assert request.params == {"to": "", "order": ""}  # the Start node's api_params defaults
    [started] = callplane.api("GET", f"Flow/{flow_id}/Run/")["objects"]
    run = finished_run(callplane, flow_id, started["run_id"])
    assert run["trigger"] == "api_request" and run["run_status"] == "completed"

    refused = reports["draft"]  # plivo-node printed "Error: [object Object]" here
    assert not refused["ok"] and refused["type"] == "string"
    assert refused["message"] == f"flow_id: flow {draft['flow_id']} has no published version"
