"""API-triggered flow runs on a real `callplane serve`: the plivo SDK's PhloClient
(``phlo.get(id).run(**payload)``, unchanged but for its base URL), the
``Flow/{id}/Run/`` alias, run listing and logs, and number assignment."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import plivo
import pytest
from plivo import exceptions

from tests.flows.examples import edge, node, reject_calls
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, sipp


def notify_flow(url: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "notify",
        "nodes": [
            node("Start", "start", api_params={"to": "", "order": ""}),
            node(
                "Notify",
                "http_request",
                url=url,
                body={"to": "{{Start.http.params.to}}", "order": "{{Start.http.params.order}}"},
            ),
        ],
        "edges": [edge("Start", "api_request", "Notify")],
    }


def published(callplane: CallplaneServer, doc: dict[str, Any]) -> str:
    flow_id: str = callplane.api("POST", "Flow/", json={"document": doc})["flow_id"]
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    return flow_id


def finished_run(callplane: CallplaneServer, flow_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = callplane.api("GET", f"Flow/{flow_id}/Run/{run_id}/")
        if run["run_status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_phlo_client_runs_a_flow_with_its_payload(callplane, web, phlo_client) -> None:
    flow_id = published(callplane, notify_flow(web.url("/notify/sdk")))
    phlo = phlo_client.phlo.get(flow_id)
    assert phlo.name == "notify"
    response = phlo.run(to="14155550100", order="A-7")
    run_id = response.phlo_run_id
    assert response.phlo_id == flow_id and response.run_id == run_id

    request = web.wait_for("/notify/sdk")[0]
    assert request.params == {"to": "14155550100", "order": "A-7"}
    run = finished_run(callplane, flow_id, run_id)
    assert run["trigger"] == "api_request" and run["run_status"] == "completed"
    assert run["variables"]["Start"]["http"]["params"]["order"] == "A-7"
    assert [e["event"] for e in run["log"]][:2] == ["start", "enter"]
    listed = callplane.api("GET", f"Flow/{flow_id}/Run/")
    assert [r["run_id"] for r in listed["objects"]] == [run_id]
    assert "log" not in listed["objects"][0]


def test_run_alias_form_body_and_refusals(callplane, web) -> None:
    flow_id = published(callplane, notify_flow(web.url("/notify/alias")))
    started = callplane.api("POST", f"Flow/{flow_id}/Run/", data={"order": "B-1"})
    assert started["message"].startswith("flow 'notify' version 1")
    assert web.wait_for("/notify/alias")[0].params["order"] == "B-1"

    auth = (AUTH_ID, AUTH_TOKEN)
    draft = callplane.api("POST", "Flow/", json={"document": notify_flow(web.url("/x"))})
    refused = httpx.post(f"{callplane.api_base}Flow/{draft['flow_id']}/Run/", auth=auth)
    assert (
        refused.status_code == 400 and "no published version" in refused.json()["fields"]["flow_id"]
    )

    no_api_trigger = published(callplane, reject_calls())
    refused = httpx.post(f"{callplane.api_base}Flow/{no_api_trigger}/Run/", auth=auth)
    assert refused.status_code == 400 and "api_request" in refused.json()["fields"]["flow_id"]

    wrong = httpx.post(f"{callplane.api_base}Flow/{flow_id}/Run/", auth=(AUTH_ID, "nope"))
    assert wrong.status_code == 401
    missing = httpx.get(f"{callplane.api_base}Flow/{flow_id}/Run/no-such-run/", auth=auth)
    assert missing.status_code == 404


def test_numbers_point_at_published_flows(callplane, web) -> None:
    auth = (AUTH_ID, AUTH_TOKEN)
    callplane.api("POST", "Number/", json={"numbers": "15550700001"})
    draft = callplane.api("POST", "Flow/", json={"document": reject_calls()})["flow_id"]
    refused = httpx.post(
        f"{callplane.api_base}Number/15550700001/", json={"flow_id": draft}, auth=auth
    )
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"flow_id": f"flow {draft} has no published version"}

    flow_id = published(callplane, reject_calls())
    callplane.api("POST", "Number/15550700001/", json={"flow_id": flow_id})
    assert callplane.api("GET", "Number/15550700001/")["flow_id"] == flow_id
    callplane.api("DELETE", f"Flow/{flow_id}/")
    assert callplane.api("GET", "Number/15550700001/")["flow_id"] is None


def test_sdk_links_a_flow_to_a_number_through_app_id(
    callplane: CallplaneServer, sdk: plivo.RestClient, workdir
) -> None:
    """Plivo code attaches a PHLO with ``numbers.update(number, app_id=phlo_id)``."""
    number = "15550700002"
    callplane.api("POST", "Number/", json={"numbers": number})
    draft = callplane.api("POST", "Flow/", json={"document": reject_calls()})["flow_id"]
    with pytest.raises(exceptions.ValidationError, match="has no published version"):
        sdk.numbers.update(number, app_id=draft)
    with pytest.raises(exceptions.ValidationError, match="app_id: no application nope"):
        sdk.numbers.update(number, app_id="nope")

    flow_id = published(callplane, reject_calls())
    sdk.numbers.update(number, app_id=flow_id)
    shown = callplane.api("GET", f"Number/{number}/")
    assert shown["flow_id"] == flow_id and shown["app_id"] is None

    caller = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    [run] = callplane.api("GET", f"Flow/{flow_id}/Run/")["objects"]
    assert run["trigger"] == "incoming_call"

    app_id = callplane.application("http://127.0.0.1:9/answer")
    sdk.numbers.update(number, app_id=app_id)  # an application takes the flow's place
    shown = callplane.api("GET", f"Number/{number}/")
    assert shown["app_id"] == app_id and shown["flow_id"] is None


def test_cli_runs_a_flow_and_lists_its_runs(callplane, web) -> None:
    from click.testing import CliRunner

    from callplane.cli import main

    flow_id = published(callplane, notify_flow(web.url("/notify/cli")))
    base = ["--api-url", f"http://127.0.0.1:{callplane.http_port}", "--auth-id", AUTH_ID]
    base += ["--auth-token", AUTH_TOKEN]
    cli = CliRunner()
    ran = cli.invoke(main, [*base, "flows", "run", flow_id, "-p", "order=C-3", "--wait"])
    assert ran.exit_code == 0, ran.output
    assert "completed" in ran.output
    assert web.wait_for("/notify/cli")[0].params["order"] == "C-3"
    listed = cli.invoke(main, [*base, "--json", "flows", "runs", flow_id])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.output)["objects"]
    assert [(r["trigger"], r["run_status"]) for r in runs] == [("api_request", "completed")]
    logged = cli.invoke(main, [*base, "flows", "run-log", flow_id, runs[0]["run_id"]])
    assert logged.exit_code == 0 and "http_response" in logged.output
