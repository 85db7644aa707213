"""The local dashboard page, rendered by a real headless Chromium (Debian's package)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid

import pytest

from localcloud.cloud import LocalCloud
from tests.e2e.saga_support import place, wait_terminal

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


def render(url: str) -> str:
    """The page's DOM after its scripts ran (virtual time lets the first fetch complete)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
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
