"""The operator CLI against the local cloud's endpoint: DLQs listed, shown, redriven."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.faults import Fault
from orderflow.ops.__main__ import main
from tests.e2e.saga_support import no_saga_running, place, wait_terminal
from tests.e2e.test_fidelity import _send, _unreadable_view
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_confirmed, order_created

QUEUE = "OrderHistoryDeadLetter"


def run(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["--endpoint-url", cloud.endpoint, *argv]) == 0
    return capsys.readouterr().out


def _depth(cloud: LocalCloud) -> int:
    url = next(u for u in cloud.client("sqs").list_queues()["QueueUrls"] if QUEUE in u)
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _stuck(cloud: LocalCloud) -> tuple[str, str]:
    """An order whose two events sit in the order-history DLQ, in order: its read model could
    not be written (a corrupt summary) until an operator repairs it."""
    order_id, group = _unreadable_view(cloud), f"group-{uuid.uuid4()}"
    with cloud.paused():
        _send(cloud, "OrderHistoryQueue", group, order_created(order_id).to_json())
        _send(cloud, "OrderHistoryQueue", group, order_confirmed(order_id).to_json())
    from localcloud.state import dead_letters

    deadline = time.monotonic() + 60  # five deliveries a second apart, on a machine that may be busy
    while len([d for d in dead_letters(cloud) if d.group == group]) < 2:
        if time.monotonic() > deadline:
            deliveries = [
                {key: report[key] for key in ("failed", "receive_counts", "error", "environment", "started", "ended")}
                for kind, report in list(cloud.activity.reports)
                if kind == "sqs_batch" and group in report["groups"].values()
            ]
            raise AssertionError(f"group {group} not dead-lettered after its deliveries: {deliveries}")
        time.sleep(0.5)
    return order_id, group


@pytest.fixture(scope="module")
def stuck_order(cloud: LocalCloud) -> tuple[str, str]:
    """One stuck order for the tests that only read the DLQ (it takes `maxReceiveCount`
    deliveries to get there)."""
    return _stuck(cloud)


@pytest.fixture
def own_stuck_order(cloud: LocalCloud) -> tuple[str, str]:
    """A stuck order of the test's own, for a test that changes the DLQ."""
    return _stuck(cloud)


def test_dlq_list_shows_every_dlq_with_its_depth(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], stuck_order: tuple[str, str]
) -> None:
    output = run(cloud, capsys, "dlq", "list")

    lines = {line.split()[0]: line for line in output.splitlines()[1:]}
    history = next(line for name, line in lines.items() if QUEUE in name)
    assert int(history.split()[1]) == _depth(cloud) >= 2
    assert any("RelayFailures" in name and "(failure destination)" in line for name, line in lines.items())
    assert any("NotificationsDeadLetter" in name for name in lines)


def test_dlq_show_decodes_each_message_with_its_reason(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], stuck_order: tuple[str, str]
) -> None:
    order_id, group = stuck_order

    output = run(cloud, capsys, "dlq", "show", QUEUE)

    assert f"event: OrderCreated order={order_id} correlation_id=corr-1" in output
    assert f"event: OrderConfirmed order={order_id}" in output
    assert f"group={group}" in output
    assert "reason: retries exhausted (maxReceiveCount)" in output


def test_a_dry_run_changes_nothing(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], stuck_order: tuple[str, str]
) -> None:
    before = _depth(cloud)

    output = run(cloud, capsys, "dlq", "redrive", QUEUE, "--dry-run")

    assert f"would move {before} message(s)" in output
    assert _depth(cloud) == before


def test_redrive_of_a_fifo_dlq_keeps_each_orders_events_in_order(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], own_stuck_order: tuple[str, str]
) -> None:
    order_id, _ = own_stuck_order
    # The operator repairs what made the events fail, then redrives them.
    cloud.client("dynamodb").delete_item(
        TableName=cloud.table_name("OrderViews"), Key={"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}}
    )

    output = run(cloud, capsys, "dlq", "redrive", QUEUE)

    assert "moved" in output
    wait_for(lambda: cloud.client("sqs") and view_status(cloud, order_id) == "CONFIRMED", timeout=30)
    projected = [
        entry["event_type"]
        for name, entry in list(cloud.activity.logs)
        if isinstance(entry, dict) and entry.get("order_id") == order_id and entry.get("message") == "event projected"
    ]
    assert projected == ["OrderCreated", "OrderConfirmed"]  # applied in their original order


def view_status(cloud: LocalCloud, order_id: str) -> str | None:

    return cloud.api.request("GET", f"/orders/{order_id}").body.get("status")


def test_order_tells_an_orders_story(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    order_id = place(cloud, "tok_declined")
    wait_terminal(cloud, order_id)
    time.sleep(0.5)

    story: dict[str, Any] = json.loads(run(cloud, capsys, "order", order_id))

    assert (story["status"], story["reason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert story["saga"]["status"] == "SUCCEEDED"
    assert [line.split()[-1] for line in story["timeline"]][-1] == "OrderCancelled"


def test_the_cli_runs_as_a_module(cloud: LocalCloud) -> None:
    shared = str(Path(__file__).resolve().parents[2] / "layers" / "shared" / "python")
    result = subprocess.run(
        [sys.executable, "-m", "orderflow.ops", "--endpoint-url", cloud.endpoint, "dlq", "list"],
        env={**os.environ, "PYTHONPATH": shared},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "dead-letter queue" in result.stdout


def test_replaying_order_created_starts_no_second_saga(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime, timedelta

    started = datetime.now(UTC) - timedelta(seconds=1)
    order_id = place(cloud, "tok_ok")
    wait_terminal(cloud, order_id)
    deliveries = sum(1 for kind, d in list(cloud.activity.reports) if kind == "rule_delivery")
    sfn = cloud.client("stepfunctions")
    machine = cloud.deployment.outputs["StateMachine"]
    executions = len(sfn.list_executions(stateMachineArn=machine)["executions"])

    output = run(
        cloud,
        capsys,
        "replay",
        "--from",
        started.isoformat(),
        "--to",
        (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
        "--type",
        "OrderCreated",
    )
    wait_for(lambda: sum(1 for kind, d in list(cloud.activity.reports) if kind == "rule_delivery") > deliveries)
    cloud.wait_until_idle()

    assert '"state": "COMPLETED"' in output
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == executions  # applied before: a no-op
    assert view_status(cloud, order_id) == "SHIPPED"


def _queue_depth(cloud: LocalCloud, marker: str) -> int:
    """Messages in the queue, those another reader holds invisible included."""
    sqs = cloud.client("sqs")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if marker in u)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _pending_with_a_failure_in(cloud: LocalCloud, queue: str, *, failing: str) -> str:
    """An order placed while function `failing` fails every invocation, once its failure is in
    `queue`; the order is still PENDING (its saga never started)."""
    no_saga_running(cloud)
    assert cloud.wait_until_idle(timeout=60)  # no other order's record can fail alongside
    assert _queue_depth(cloud, queue) == 0  # nothing left there by another test
    cloud.runtime.faults.set([Fault(kind="error", target=failing)])
    try:
        order_id = place(cloud, "tok_ok")
        wait_for(lambda: _queue_depth(cloud, queue) == 1, timeout=90)
    finally:
        cloud.runtime.clear_faults()
    assert view_status(cloud, order_id) == "PENDING"
    return order_id


def test_a_saga_start_that_keeps_failing_waits_in_its_dlq_and_redrive_starts_it(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """EventBridge hands OrderCreated to the saga-starts queue, not to a function: a starter
    failing on every receive leaves the event in the queue's DLQ (alarmed), not dropped."""
    order_id = _pending_with_a_failure_in(cloud, "SagaStartsDeadLetter", failing="FulfilmentSagaStartsConsumer")

    shown = run(cloud, capsys, "dlq", "show", "SagaStartsDeadLetter")
    output = run(cloud, capsys, "dlq", "redrive", "SagaStartsDeadLetter")

    assert f"event: OrderCreated order={order_id}" in shown
    assert "moved 1 message(s)" in output
    assert wait_terminal(cloud, order_id)[order_id]["status"] == "SHIPPED"


def test_a_stream_batch_the_relay_could_not_publish_is_read_again_and_published(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """The relay fails on every retry: Lambda records the batch's stream positions in the
    failure queue; redrive reads those records from the stream and hands them to the relay."""
    order_id = _pending_with_a_failure_in(cloud, "RelayFailures", failing="BackboneRelay")

    shown = run(cloud, capsys, "dlq", "show", "RelayFailures")
    output = run(cloud, capsys, "dlq", "redrive", "RelayFailures")

    assert "stream batch of 1 record(s)" in shown
    assert "redrove 1 failure record(s) from" in output
    assert "(1 stream record(s))" in output
    assert _queue_depth(cloud, "RelayFailures") == 0
    assert wait_terminal(cloud, order_id)[order_id]["status"] == "SHIPPED"
