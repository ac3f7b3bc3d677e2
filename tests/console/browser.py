"""The console in headless Chromium (Debian's ``chromium``, driven by Playwright), and
the steps a user takes in it: log in, drag components, connect exits, fill settings."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


class Console:
    """One browser tab on ``base`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base

    def login(self, auth_id: str, secret: str) -> None:
        self.page.goto(f"{self.base}/console/")
        self.page.get_by_label("Auth ID").fill(auth_id)
        self.page.get_by_label("Auth token or API key").fill(secret)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("link", name="Flows")).to_be_visible()

    def go(self, section: str) -> None:
        self.page.get_by_role("link", name=section, exact=True).click()

    def new_flow(self, name: str) -> str:
        """Create a flow on the Flows page; the designer opens. Returns its id."""
        self.go("Flows")
        self.page.get_by_label("New flow name").fill(name)
        self.page.get_by_role("button", name="Create flow").click()
        expect(self.page.get_by_label("Flow name", exact=True)).to_have_value(name)
        return self.page.url.rstrip("/").rsplit("/", 1)[-1]

    def open_call(self, number: str) -> None:
        """From the call log, open the inbound call to ``number``: its inspector."""
        self.go("Call log")
        row = self.page.locator("tr", has_text=number).filter(has_text="inbound")
        row.get_by_role("link").click()
        expect(self.page.get_by_role("tab", name=re.compile("^SIP ladder"))).to_be_visible()

    # -- the designer --------------------------------------------------------------

    def drop(self, component: str, x: int, y: int) -> Locator:
        """Drag ``component`` from the palette onto the canvas at (x, y); the new node."""
        before = self.page.locator(".react-flow__node").count()
        self.page.get_by_test_id(f"palette-{component}").drag_to(
            self.page.get_by_test_id("canvas"), target_position={"x": x, "y": y}
        )
        nodes = self.page.locator(".react-flow__node")
        expect(nodes).to_have_count(before + 1)
        return nodes.nth(before)

    def connect(self, source: str, exit_name: str, target: str) -> None:
        """Drag from ``source``'s exit handle to ``target``'s input handle."""
        start = self._center(f'.source[data-nodeid="{source}"][data-handleid="{exit_name}"]')
        end = self._center(f'.target[data-nodeid="{target}"]')
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down()
        mouse.move(*end, steps=12)
        mouse.up()
        edge = self.page.locator(f'.react-flow__edge[data-id="{source}:{exit_name}"]')
        expect(edge).to_have_count(1)

    def _center(self, selector: str) -> tuple[float, float]:
        box = self.page.locator(f".react-flow__handle{selector}").bounding_box()
        assert box is not None, f"no handle {selector}"
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def select(self, node_id: str) -> Locator:
        """Click a node; its side panel."""
        self.page.get_by_test_id(f"node-{node_id}").click()
        panel = self.page.get_by_test_id("side-panel")
        expect(panel).to_contain_text(node_id)
        return panel

    def press(self, button: str, expect_status: str) -> None:
        """Click a toolbar button and wait for the status it should report."""
        self.page.get_by_role("button", name=button, exact=True).click()
        expect(self.page.get_by_role("status")).to_have_text(expect_status)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path
