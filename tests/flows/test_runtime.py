"""The flow runtime without a call: API-triggered runs through Set Variable, HTTP
Request (to a real HTTP server), Branch and Counter, saved in a real SQLite store;
number assignment and routing to a flow's newest published version."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from callplane.config import Settings
from callplane.control.originate import Originator
from callplane.errors import ValidationError
from callplane.flows import Flow, validate
from callplane.flows.components import Operator
from callplane.flows.logic_nodes import holds
from callplane.flows.outbound import OutboundCalls
from callplane.flows.runtime import FlowRunner
from callplane.net.sip_transport import SipTransport
from callplane.server import build_services
from callplane.store import Store
from callplane.store.models import FlowRun, FlowVersion
from callplane.webhooks.ssrf import Reach
from tests.flows.examples import edge, node, reject_calls
from tests.interop.harness import WebhookServer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield opened
    await opened.close()


@pytest.fixture
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
async def owner(store: Store) -> str:
    account, _ = await store.ensure_main_account()
    return account.auth_id


@pytest.fixture
async def runner(store: Store) -> AsyncIterator[FlowRunner]:
    flows = FlowRunner(store.save_flow_run)
    yield flows
    await flows.aclose()


def order_flow(url: str) -> dict[str, Any]:
    """Start(api) -> Set Variable -> HTTP Request -> Branch on the answer -> Counter."""
    return {
        "schema": 1,
        "name": "order lookup",
        "nodes": [
            node("Start", "start", api_params={"order": "none", "name": ""}),
            node("Vars", "set_variable", variables={"greeting": "hi {{Start.http.params.name}}"}),
            node(
                "Lookup",
                "http_request",
                method="POST",
                url=url + "?order={{Start.http.params.order}}",
                headers={"X-Greeting": "{{Vars.greeting}}"},
                body={"order": "{{Start.http.params.order}}", "who": "{{Start.http.params.name}}"},
                timeout=5,
            ),
            node(
                "Decide",
                "branch",
                variable="{{Lookup.response.body.state}}",
                conditions=[
                    {"name": "shipped", "operator": "equals", "value": "shipped"},
                    {"name": "pending", "operator": "regex", "value": "^pend"},
                ],
            ),
            node("Shipped", "counter", counter="shipped", limit=1),
            node("Failed", "set_variable", variables={"why": "{{Lookup.response.status_code}}"}),
        ],
        "edges": [
            edge("Start", "api_request", "Vars"),
            edge("Vars", "next", "Lookup"),
            edge("Lookup", "success", "Decide"),
            edge("Lookup", "failed", "Failed"),
            edge("Decide", "shipped", "Shipped"),
            edge("Decide", "pending", "Failed"),
        ],
    }


async def publish(store: Store, doc: dict[str, Any]) -> FlowVersion:
    assert validate(Flow.parse(doc)) == []
    account, _ = await store.ensure_main_account()
    flow = await store.create_flow(account.auth_id, doc["name"], doc)
    return await store.publish_flow(account.auth_id, flow.flow_id, doc)


async def finished(store: Store, run: FlowRun) -> FlowRun:
    for _ in range(500):
        saved = await store.get_flow_run(run.auth_id, run.flow_id, run.run_id)
        if saved is not None and saved.status != "running":
            return saved
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run.run_id} did not finish")


def events(run: FlowRun, event: str) -> list[dict[str, Any]]:
    return [entry for entry in run.log if entry["event"] == event]


async def test_api_run_renders_templates_into_a_real_request_and_branches(
    store: Store, runner: FlowRunner, web: WebhookServer, owner: str
) -> None:
    url = web.set("/orders", json.dumps({"state": "shipped", "id": 7}), "application/json")
    version = await publish(store, order_flow(url))
    started = await runner.start_request(
        version, owner, Reach.PRIVATE, {"order": "A-1", "name": "Bo"}
    )
    assert started.status == "running" and started.trigger == "api_request"
    run = await finished(store, started)

    request = web.wait_for("/orders")[0]
    assert request.method == "POST" and request.params["order"] == "A-1"
    assert request.params["who"] == "Bo" and request.headers["X-Greeting"] == "hi Bo"
    assert request.url.endswith("/orders?order=A-1")
    assert run.status == "completed"
    assert [e["node"] for e in events(run, "enter")] == ["Vars", "Lookup", "Decide", "Shipped"]
    assert run.variables["Lookup"]["response"]["body"] == {"state": "shipped", "id": 7}
    assert run.variables["Lookup"]["response"]["status_code"] == 200
    assert run.variables["Shipped"] == {"count": 1}
    assert events(run, "branch")[0]["matched"] == "shipped"
    assert events(run, "http_response")[0]["status_code"] == 200
    assert all(entry["time"].endswith("Z") for entry in run.log)


async def test_non_2xx_and_unreachable_leave_through_failed(
    store: Store, runner: FlowRunner, web: WebhookServer, owner: str
) -> None:
    url = web.set("/orders", "down for maintenance", "text/plain", status=503)
    version = await publish(store, order_flow(url))
    run = await finished(
        store, await runner.start_request(version, owner, Reach.PRIVATE, {"name": "x"})
    )
    assert run.variables["Failed"] == {"why": "503"}
    assert web.wait_for("/orders")[0].params["order"] == "none"  # the api_params default

    unreachable = await publish(store, order_flow("http://127.0.0.1:9/orders"))
    run = await finished(store, await runner.start_request(unreachable, owner, Reach.PRIVATE, {}))
    assert run.variables["Failed"] == {"why": "0"} and events(run, "http_error")


async def test_counter_limit_and_call_nodes_without_a_call(
    store: Store, runner: FlowRunner, web: WebhookServer, owner: str
) -> None:
    url = web.set("/orders", json.dumps({"state": "shipped"}), "application/json")
    version = await publish(store, order_flow(url))
    first = await finished(store, await runner.start_request(version, owner, Reach.PRIVATE, {}))
    second = await finished(store, await runner.start_request(version, owner, Reach.PRIVATE, {}))
    assert first.variables["Shipped"] == {"count": 1}
    assert second.variables["Shipped"] == {"count": 2}
    assert events(second, "exit")[-1]["exit"] == "limit_reached"

    doc = {
        "schema": 1,
        "name": "api call forward",
        "nodes": [
            node("Start", "start"),
            node("Forward", "call_forward", **{"from": "1415", "to": "14155550100"}),
            node("Report", "http_request", url=url),
        ],
        "edges": [
            edge("Start", "api_request", "Forward"),
            *(edge("Forward", e, "Report") for e in ("no_answer", "busy", "failed")),
        ],
    }
    run = await finished(
        store, await runner.start_request(await publish(store, doc), owner, Reach.PRIVATE, {})
    )
    assert run.status == "failed"
    assert "this process places no calls" in events(run, "error")[0]["message"]


async def test_hangup_on_the_api_trigger_says_the_run_has_no_call(
    store: Store, runner: FlowRunner, owner: str
) -> None:
    doc = {
        "schema": 1,
        "name": "api hangup",
        "nodes": [node("Start", "start"), node("Hangup_1", "hangup")],
        "edges": [edge("Start", "api_request", "Hangup_1")],
    }
    run = await finished(
        store, await runner.start_request(await publish(store, doc), owner, Reach.PRIVATE, {})
    )
    assert run.status == "failed"
    message = events(run, "error")[0]["message"]
    assert message.startswith("hangup needs a call and this run has none: place one first")
    assert "not available" not in message


async def test_runs_are_listed_newest_first(
    store: Store, runner: FlowRunner, web: WebhookServer, owner: str
) -> None:
    url = web.set("/orders", "{}", "application/json")
    version = await publish(store, order_flow(url))
    runs = [
        await finished(store, await runner.start_request(version, owner, Reach.PRIVATE, {}))
        for _ in "ab"
    ]
    page = await store.list_flow_runs(owner, version.flow_id)
    assert page.total == 2 and [r.run_id for r in page.items] == [r.run_id for r in runs[::-1]]


@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        (Operator.EQUALS, "busy", "busy", True),
        (Operator.NOT_EQUALS, "busy", "busy", False),
        (Operator.CONTAINS, "no-answer", "answer", True),
        (Operator.GREATER_THAN, "10", "9", True),
        (Operator.GREATER_THAN, "ten", "9", False),
        (Operator.LESS_THAN, "2.5", "3", True),
        (Operator.REGEX, "A-17", r"^A-\d+$", True),
        (Operator.REGEX, "x", "(", False),
    ],
)
def test_branch_operators(operator: Operator, value: str, operand: str, expected: bool) -> None:
    assert holds(operator, value, operand) is expected


async def test_number_runs_the_newest_published_version(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    await store.add_numbers(account.auth_id, ["15550001234"])
    flow = await store.create_flow(account.auth_id, "reject", reject_calls())
    with pytest.raises(ValidationError, match="no published version"):
        await store.update_number(account.auth_id, "15550001234", {"flow_id": flow.flow_id})
    await store.publish_flow(account.auth_id, flow.flow_id, reject_calls())
    await store.update_number(account.auth_id, "15550001234", {"flow_id": flow.flow_id})
    route = store.route("15550001234")
    assert route is not None and route.flow is not None and route.flow.version == 1
    await store.publish_flow(account.auth_id, flow.flow_id, reject_calls())
    route = store.route("15550001234")
    assert route is not None and route.flow is not None and route.flow.version == 2

    await store.delete_flow(account.auth_id, flow.flow_id)
    number = await store.get_number(account.auth_id, "15550001234")
    assert number is not None and number.flow_id is None
    route = store.route("15550001234")
    assert route is not None and route.flow is None


# -- placing calls (Initiate Call) with the originator `callplane serve` uses -------------


def initiate_flow() -> dict[str, Any]:
    """Start(api) -> Initiate Call to {{to}}; unanswered -> Set Variable with its result."""
    return {
        "schema": 1,
        "name": "initiate",
        "nodes": [
            node("Start", "start", api_params={"to": ""}),
            node(
                "Call", "initiate_call", **{"from": "14155550100", "to": "{{Start.http.params.to}}"}
            ),
            node("Hangup_1", "hangup"),
            node(
                "Why",
                "set_variable",
                variables={"why": "{{Call.call_status}}/{{Call.hangup_cause}}"},
            ),
        ],
        "edges": [
            edge("Start", "api_request", "Call"),
            edge("Call", "answered", "Hangup_1"),
            *(edge("Call", e, "Why") for e in ("no_answer", "busy", "failed")),
        ],
    }


async def test_initiate_call_without_a_route_fails_with_one_call_record(
    store: Store, owner: str, tmp_path: Path
) -> None:
    services = build_services(Settings(data_dir=tmp_path, sip_host="127.0.0.1"), store)
    sip = SipTransport(lambda event: None)
    await sip.start("127.0.0.1", 0)
    services.records.start()
    runner = FlowRunner(store.save_flow_run)
    runner.outbound = OutboundCalls(Originator(services, sip), store.get_account)
    version = await publish(store, initiate_flow())
    try:
        unroutable = await runner.start_request(
            version, owner, Reach.PRIVATE, {"to": "15559990000"}
        )
        run = await finished(store, unroutable)
        several = await runner.start_request(
            version, owner, Reach.PRIVATE, {"to": "15559990000,15559990001"}
        )
        refused = await finished(store, several)
        await services.records.written(run.call_uuid or "")
    finally:
        await runner.aclose()
        await services.records.stop()
        await sip.close()

    assert run.status == "completed" and run.call_uuid
    assert run.variables["Why"] == {"why": "failed/NO_ROUTE_DESTINATION"}
    assert events(run, "call_result")[0]["call_uuid"] == run.call_uuid
    record = await store.get_call(owner, run.call_uuid)
    assert record is not None and record.call_status == "failed"
    assert record.call_direction == "outbound" and record.hangup_cause_name == "No Route"
    assert refused.status == "failed" and refused.call_uuid is None
    assert "one destination" in events(refused, "error")[0]["message"]
    assert events(refused, "exit")[0]["exit"] == "failed"
