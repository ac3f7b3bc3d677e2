"""The console's other pages: log in with an API key, create an application, route a
number to it and then to a flow, and the refused log-in."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browser import Console
from tests.interop.harness import AUTH_ID, CallplaneServer

NUMBER = "15550007101"
REJECT_DOCUMENT = {
    "schema": 1,
    "name": "after hours",
    "nodes": [{"id": "Start", "type": "start"}, {"id": "Hangup_1", "type": "hangup"}],
    "edges": [{"from": "Start", "exit": "incoming_call", "to": "Hangup_1"}],
}


def test_api_key_login_applications_and_numbers(page: Page, callplane: CallplaneServer) -> None:
    secret = callplane.api("POST", "ApiKey/", json={"name": "console"})["secret"]
    flow_id = callplane.api("POST", "Flow/", json={"name": "after hours"})["flow_id"]
    draft = callplane.api("POST", "Flow/", json={"name": "draft only"})["flow_id"]
    callplane.number(NUMBER, None)
    ui = Console(page, f"http://127.0.0.1:{callplane.http_port}")
    ui.login(AUTH_ID, secret)

    ui.go("Applications")
    page.get_by_label("Name", exact=True).fill("support line")
    page.get_by_label("Answer URL").fill("https://example.com/answer")
    page.get_by_role("button", name="Create application").click()
    row = page.locator("tr", has_text="support line")
    expect(row).to_contain_text("https://example.com/answer")
    app_id = row.locator("code").inner_text()

    ui.go("Numbers")
    route = page.get_by_label(f"Route for {NUMBER}")
    route.select_option(label="support line")
    expect(page.get_by_text(f"{NUMBER} updated")).to_be_visible()
    assert callplane.api("GET", f"Number/{NUMBER}/")["app_id"] == app_id

    route.select_option(label="draft only")
    expect(page.get_by_text(f"flow_id: flow {draft} has no published version")).to_be_visible()
    expect(route).to_have_value(f"app:{app_id}")

    callplane.api("POST", f"Flow/{flow_id}/", json={"document": REJECT_DOCUMENT})
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    route.select_option(label="after hours")
    expect(route).to_have_value(f"flow:{flow_id}")
    assert callplane.api("GET", f"Number/{NUMBER}/")["flow_id"] == flow_id
    ui.screenshot("numbers")


def test_wrong_token_is_refused(page: Page, callplane: CallplaneServer) -> None:
    page.goto(f"http://127.0.0.1:{callplane.http_port}/console/")
    page.get_by_label("Auth ID").fill(AUTH_ID)
    page.get_by_label("Auth token or API key").fill("not-the-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Authentication failed")
    expect(page.get_by_role("link", name="Flows")).to_have_count(0)
