"""The local dashboard page, rendered by a real headless Chromium (Debian's package): its own
tables, and the template's CloudWatch dashboards drawn widget by widget, driven by Playwright."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.state import dead_letters
from tests.e2e.saga_support import place, wait_terminal
from tests.e2e.test_order_flow import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As the machine's Chromium runs headless as root, with no network beyond this machine.
FLAGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


def render(url: str) -> str:
    """The page's DOM after its scripts ran (virtual time lets the first fetch complete)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                *FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    return result.stdout


def test_the_dashboard_renders_the_live_numbers(cloud: LocalCloud) -> None:
    wait_terminal(cloud, place(cloud, "tok_ok"), place(cloud, "tok_declined"))
    cloud.wait_until_idle()
    live = cloud.api.request("GET", "/_local/state.json").body

    dom = render(f"{cloud.api.url}/_local/")

    assert 'data-loaded="true"' in dom
    rendered = {status: int(n) for status, n in re.findall(r'data-status="([A-Z_]+)" data-count="(\d+)"', dom)}
    assert rendered == live["orders"]
    assert rendered["SHIPPED"] >= 1
    queues = set(re.findall(r'data-queue="([^"]+)"', dom))
    assert queues == {queue["queue"] for queue in live["queues"]}
    assert 'data-metric="outbox-relay/EventsPublished"' in dom


def test_log_lines_filter_by_correlation_id(cloud: LocalCloud) -> None:
    correlation_id = f"dash-{uuid.uuid4()}"
    body = {
        "customer_id": "dash",
        "items": [{"sku": "CB-005", "quantity": 1}],
        "currency": "EUR",
        "payment_token": "tok_ok",
    }
    order_id = cloud.api.request("POST", "/orders", body, {"X-Correlation-Id": correlation_id}).body["order_id"]
    wait_terminal(cloud, order_id)
    cloud.wait_until_idle()

    dom = render(f"{cloud.api.url}/_local/?correlation_id={correlation_id}")

    shown = re.findall(r'data-correlation="([^"]*)"', dom)
    assert len(shown) >= 9  # a line from each function the order went through
    assert set(shown) == {correlation_id}


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every pair of boxes that share more than a pixel of area."""
    pairs = []
    for n, a in enumerate(boxes):
        for b in boxes[n + 1 :]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > 1 and height > 1:
                pairs.append((a["name"], b["name"]))
    return pairs


BOXES = """els => els.map(e => { const r = e.getBoundingClientRect();
  const widget = e.dataset.widget !== undefined ? 'widget ' + e.dataset.widget + ' ' + e.dataset.title : '';
  return {name: widget || e.id || e.className,
          type: e.dataset.type, title: e.dataset.title, series: e.dataset.series,
          left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })"""


@pytest.fixture
def page(cloud: LocalCloud) -> Iterator[Any]:
    """The local page in the machine's Chromium, driven by Playwright, 1,280 px wide."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            opened = browser.new_page(viewport={"width": 1280, "height": 900})
            opened.goto(f"{cloud.api.url}/_local/")
            yield opened
        finally:
            browser.close()


def test_the_templates_dashboards_are_drawn_widget_by_widget_without_overlap(cloud: LocalCloud, page: Any) -> None:
    wait_terminal(cloud, place(cloud, "tok_ok"))
    for name, body in cloud.deployment.dashboards.items():
        defined = body["widgets"]
        graphs = sum(1 for widget in defined if widget["type"] == "metric")
        page.select_option("#dashboard", name)
        page.wait_for_selector(f'#board[data-dashboard="{name}"]')
        page.wait_for_function(
            f"document.querySelectorAll('#board .widget canvas').length === {graphs}"
            f" && document.getElementById('board').dataset.dashboard === {name!r}"
        )

        drawn = page.eval_on_selector_all("#board .widget", BOXES)

        assert [(w["type"], w["title"]) for w in drawn] == [
            (w["type"], w["properties"].get("title", "")) for w in defined
        ]  # one for one, in the template's order
        for shown, widget in zip(drawn, defined, strict=True):
            if widget["type"] == "metric":
                visible = [m for m in widget["properties"]["metrics"] if m[-1].get("visible", True)]
                assert int(shown["series"]) == len(visible), shown["title"]
        panels = page.eval_on_selector_all("#board .widget, .panel, #alarms, .controls", BOXES)
        assert _overlapping(panels) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # nothing cut at 1,280 px
    alarms = page.eval_on_selector_all("#alarms .alarm", "els => els.map(e => e.dataset.alarm)")
    assert sorted(alarms) == sorted(cloud.cloudwatch.alarms)


def test_the_failed_message_console_shows_a_dead_letter_and_redrives_it(cloud: LocalCloud, page: Any) -> None:
    group = f"console-{uuid.uuid4()}"
    cloud.client("sqs").send_message(
        QueueUrl=cloud.queue_url("NotificationsQueue"),
        MessageBody="{not an event",
        MessageGroupId=group,
        MessageDeduplicationId=group,
    )
    wait_for(lambda: any(d.group == group for d in dead_letters(cloud)), timeout=30)
    page.click("#load-dlqs")
    row = page.wait_for_selector(f'[data-group="{group}"]')  # dead-lettered by the consumer itself
    reason = row.evaluate("r => r.closest('.reason').dataset.reason")
    assert reason.startswith("MalformedMessage")
    row.query_selector("td").click()  # the message itself
    assert "{not an event" in page.inner_text(f'[data-group="{group}"] + tr pre')

    row.query_selector("button").click()  # redrive this one

    page.wait_for_function("document.getElementById('dlqs').dataset.last !== undefined")
    result = page.evaluate("JSON.parse(document.getElementById('dlqs').dataset.last)")
    assert (result["redriven"], result["kept"]) == (1, [])
    boxes = page.eval_on_selector_all(".dlq, .panel, #board .widget", BOXES)
    assert _overlapping(boxes) == []
    # Malformed still: back in the DLQ on its first delivery, where the test leaves it.
    wait_for(lambda: any(d.group == group for d in dead_letters(cloud)), timeout=30)
