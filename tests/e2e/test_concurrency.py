"""The local cloud runs a function in several environments at once, as Lambda scales it: FIFO
groups in parallel, one group never in two places at once, and a batch that outlasts its
visibility timeout delivered again while it still runs."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.faults import Fault
from localcloud.state import dead_letters
from tests.e2e.test_fidelity import _send
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_confirmed, order_created

QUEUE = "OrderHistoryQueue"


@pytest.fixture
def consumer(cloud: LocalCloud) -> Iterator[str]:
    """The history consumer's logical id, with its faults cleared afterwards."""
    name = cloud.function_name("OrderHistoryConsumer")
    yield cloud.runtime.functions[name].logical_id
    cloud.runtime.faults.clear()


def _batches(cloud: LocalCloud, message_ids: set[str]) -> list[dict[str, Any]]:
    return [
        details
        for kind, details in list(cloud.activity.reports)
        if kind == "sqs_batch" and message_ids & set(details["message_ids"])
    ]


def _processed(cloud: LocalCloud, message_ids: set[str]) -> bool:
    done = {m for batch in _batches(cloud, message_ids) for m in batch["message_ids"] if m not in batch["failed"]}
    return message_ids <= done


def _overlap(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return bool(first["started"] < second["ended"] and second["started"] < first["ended"])


def test_groups_run_in_parallel_and_a_group_never_in_two_environments_at_once(cloud: LocalCloud, consumer: str) -> None:
    cloud.runtime.faults.set([Fault(kind="latency", target=consumer, seconds=0.5)])  # batches that take a while
    orders = [f"order-{uuid.uuid4()}" for _ in range(8)]
    sent: dict[str, str] = {}  # message id -> group
    with cloud.paused():  # a backlog: 16 messages in 8 groups
        for order in orders:
            for event in (order_created(order), order_confirmed(order)):
                sent[_send(cloud, QUEUE, order, event.model_copy(update={"subject": order}).to_json())] = order

    wait_for(lambda: _processed(cloud, set(sent)), timeout=30)
    batches = _batches(cloud, set(sent))

    concurrent = [(a, b) for a, b in itertools.combinations(batches, 2) if _overlap(a, b)]
    assert concurrent, "no two batches ran at the same time"
    assert any(a["environment"] != b["environment"] for a, b in concurrent)
    for first, second in concurrent:  # overlapping batches share no group
        groups = {sent[m] for m in first["message_ids"] if m in sent}
        assert groups.isdisjoint(sent[m] for m in second["message_ids"] if m in sent)


def test_a_batch_outlasting_its_visibility_timeout_is_delivered_again_while_it_runs(
    cloud: LocalCloud, api: Any, consumer: str
) -> None:
    cloud.runtime.faults.set([Fault(kind="visibility_timeout", target=consumer, seconds=1.5, times=1)])
    order = f"order-{uuid.uuid4()}"
    message = _send(cloud, QUEUE, order, order_created(order).model_copy(update={"subject": order}).to_json())

    batches = wait_for(lambda: _twice(cloud, message), timeout=30)
    (slow,) = [batch for batch in batches if batch["outlasted_visibility"]]
    (again,) = [batch for batch in batches if not batch["outlasted_visibility"]]

    assert slow["receive_counts"][message] == 1
    assert again["receive_counts"][message] == 2
    assert again["started"] < slow["ended"]  # delivered again while the slow batch still ran ...
    assert again["environment"] != slow["environment"]  # ... to another environment
    assert cloud.runtime.faults.injected["visibility_timeout"] == 1
    # Processed twice, applied once, and gone from the queue (the later delivery deleted it).
    assert wait_for(lambda: api("GET", f"/orders/{order}").body.get("status") == "PENDING")
    assert cloud.wait_until_idle(timeout=20)
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.queue_url(QUEUE),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert all(letter.body.find(order) < 0 for letter in dead_letters(cloud))


def _twice(cloud: LocalCloud, message_id: str) -> list[dict[str, Any]] | None:
    batches = _batches(cloud, {message_id})  # a batch is reported once it has ended
    return batches if len(batches) == 2 else None
