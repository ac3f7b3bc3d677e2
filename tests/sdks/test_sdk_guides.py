"""The guides in docs/sdks.md, run as written: each snippet in docs/sdk-snippets/ (the
text the page shows) drives a real `callplane serve` through its official SDK, with
only host, credentials, answer URL and callee filled in from the environment. Every
connection the SDK attempts to anything but 127.0.0.1 is refused before it is made
(loopback_only.py, loopback_only.js), so a guide that would send credentials to
Plivo or Twilio fails here. Node SDKs come from tests/sdks/package-lock.json
(`npm ci`, as .ci/run does); skipped without node and npm."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, SippUas, WebhookServer
from tests.interop.test_flow_runs_api import notify_flow, published
from tests.sdks.conftest import SNIPPETS, Run

GUIDE = SNIPPETS.parent / "sdks.md"
NUMBERS = {  # the number each snippet adds
    "plivo_python.py": "14155550101",
    "plivo_node.js": "14155550102",
    "twilio_python.py": "14155550103",
    "twilio_node.js": "14155550104",
}
HANGUP = "<Response><Hangup/></Response>"  # the same document in Plivo XML and TwiML


def lines_of(output: str) -> dict[str, list[list[str]]]:
    """The snippet's report lines (``step value...``), by step; the SDKs' own output aside."""
    found: dict[str, list[list[str]]] = {}
    for line in output.splitlines():
        step, _, rest = line.partition(" ")
        if step in ("application", "number", "call", "ended", "listed"):
            found.setdefault(step, []).append(rest.split())
    return found


def call_uuid_of(call_id: str) -> str:
    """A Plivo CallUUID, or a Twilio ``CA`` SID (``CA`` + the CallUUID's hex digits)."""
    return str(uuid.UUID(hex=call_id[2:])) if call_id.startswith("CA") else call_id


@pytest.mark.parametrize("snippet", sorted(NUMBERS))
def test_the_guide_creates_an_app_adds_a_number_places_and_lists_a_call(
    snippet: str,
    callplane: CallplaneServer,
    web: WebhookServer,
    workdir: Path,
    run_snippet: Run,
) -> None:
    answer = web.set(f"/answer/{snippet}", HANGUP)
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    env = {
        "CALLPLANE_URL": f"http://127.0.0.1:{callplane.http_port}",
        "CALLPLANE_AUTH_ID": AUTH_ID,
        "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN,
        "CALLPLANE_ACCOUNT_SID": callplane.api("GET", "")["twilio_account_sid"],
        "ANSWER_URL": answer,
        "CALL_TO": callee.uri(),
    }
    done = run_snippet(snippet, env)
    assert "blocked" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    steps = lines_of(done.stdout)

    [[app_id]] = steps["application"]
    app_id = str(int(app_id[2:])) if app_id.startswith("AP") else app_id
    app = callplane.api("GET", f"Application/{app_id}/")
    assert app["app_name"] == "support" and app["answer_url"] == answer
    number = callplane.api("GET", f"Number/{NUMBERS[snippet]}/")
    assert number["application"] == f"/v1/Account/{AUTH_ID}/Application/{app_id}/"
    [number_line] = steps["number"]
    assert number_line[-1] in (number["application"], "AP" + app_id.zfill(32))

    [[call_id]] = steps["call"]
    call_uuid = call_uuid_of(call_id)
    assert callee.result().returncode == 0  # answered, then our BYE after the Hangup
    asked = web.wait_for(f"/answer/{snippet}")[0].params
    assert asked["CallUUID" if snippet.startswith("plivo") else "CallSid"] == call_id
    record = callplane.api("GET", f"Call/{call_uuid}/")
    assert record["call_state"] == "ANSWER" and record["to_number"] == callee.uri()
    assert record["from_number"] == NUMBERS[snippet]
    [ended] = steps["ended"]
    assert ended[0] == call_id
    if snippet.startswith("plivo"):
        assert ended[1:] == ["ANSWER", str(record["hangup_cause_code"])]
    else:
        assert ended[1:] == ["completed", str(record["call_duration"])]
    listed = steps["listed"]
    assert [call_id, callee.uri()] == listed[0]  # newest first


def guide_blocks() -> dict[str, str]:
    """The code blocks of docs/sdks.md that show a snippet file, by file name."""
    text = GUIDE.read_text()
    pattern = r"<!-- snippet: (\S+) -->\n```\w+\n(.*?)```\n"
    return {name: code for name, code in re.findall(pattern, text, flags=re.DOTALL)}


def test_the_guide_shows_each_snippet_as_tested() -> None:
    blocks = guide_blocks()
    assert sorted(blocks) == sorted(NUMBERS)
    for name, code in blocks.items():
        assert code == (SNIPPETS / name).read_text(), f"docs/sdks.md shows another {name}"


def test_the_guide_shows_the_connection_lines_of_its_snippets() -> None:
    """The short excerpts ("the lines that point it at Callplane") are in the snippets."""
    text = GUIDE.read_text()
    snippets = [path.read_text() for path in SNIPPETS.iterdir()]
    excerpts = re.findall(r"(?<!-->\n)```\w+\n(.*?)```\n", text, flags=re.DOTALL)
    assert len(excerpts) == len(NUMBERS)
    for excerpt in excerpts:
        assert any(excerpt in snippet for snippet in snippets), excerpt


PLIVO_NODE_LIMITS = """
const report = (what, value) => console.log(JSON.stringify({ what, ...value }));
(async () => {
  try {
    await client.lookup.get("+14155550100");
    report("lookup", { ok: true });
  } catch (error) {
    report("lookup", { ok: false, message: String(error.message || error) });
  }
  try {
    await client.calls.get("no-such-call");
    report("missing", { ok: true });
  } catch (error) {
    report("missing", { ok: false, status: error.status, message: error.message });
  }
  const run = await new plivo.PhloClient(AUTH_ID, AUTH_TOKEN).phlo(process.env.FLOW_ID).run();
  report("phlo", { ok: true, phloId: run.phloId });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
"""


def test_plivo_node_connection_refuses_lookup_and_carries_phlo_and_errors(
    callplane: CallplaneServer, web: WebhookServer, tmp_path: Path, run_snippet: Run
) -> None:
    """What docs/sdks.md says of plivo-node behind the adapter: Lookup is refused without
    a connection, PhloClient reaches Callplane with no `url`, errors carry `status`."""
    text = (SNIPPETS / "plivo_node.js").read_text()
    connected = "const client = new plivo.Client(AUTH_ID, AUTH_TOKEN);\n"
    assert connected in text
    script = tmp_path / "limits.js"
    script.write_text(text[: text.index(connected) + len(connected)] + PLIVO_NODE_LIMITS)
    flow_id = published(callplane, notify_flow(web.url("/notify/plivo-node")))
    env = {
        "CALLPLANE_URL": f"http://127.0.0.1:{callplane.http_port}",
        "CALLPLANE_AUTH_ID": AUTH_ID,
        "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN,
        "FLOW_ID": flow_id,
    }
    done = run_snippet(str(script), env)
    assert "blocked" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    found = {report["what"]: report for report in reports}
    assert not found["lookup"]["ok"]
    assert "not sent: Callplane does not serve lookup.plivo.com" in found["lookup"]["message"]
    assert found["missing"] == {
        "what": "missing",
        "ok": False,
        "status": 404,
        "message": "call no-such-call not found",
    }
    assert found["phlo"]["phloId"] == flow_id
    assert web.wait_for("/notify/plivo-node")  # the flow ran on Callplane
