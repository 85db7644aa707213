"""The local cloud behaves like AWS where it matters to orderflow: redrive after
maxReceiveCount, FIFO partial batch redelivery, filter policies, transactional streams."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from localcloud import lambda_python
from localcloud.cloud import LocalCloud
from localcloud.state import dead_letters
from orderflow.adapters.notifications import RecordingChannel
from tests.e2e.saga_support import publish_event
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_confirmed, order_created, order_request

EVENTS = Path(__file__).resolve().parents[1] / "events"


def _send(cloud: LocalCloud, queue: str, group: str, body: str) -> str:
    answer = cloud.client("sqs").send_message(
        QueueUrl=cloud.queue_url(queue),
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=str(uuid.uuid4()),
    )
    return str(answer["MessageId"])


def _batches(cloud: LocalCloud, message_id: str) -> list[dict[str, Any]]:
    return [d for kind, d in list(cloud.activity.reports) if kind == "sqs_batch" and message_id in d["message_ids"]]


def test_a_malformed_message_is_dead_lettered_at_once_with_its_reason(cloud: LocalCloud, api: Any) -> None:
    group, later = f"order-{uuid.uuid4()}", order_created(f"order-{uuid.uuid4()}")
    poison = _send(cloud, "OrderHistoryQueue", group, '{"type": "OrderTeleported"}')
    assert poison
    _send(cloud, "OrderHistoryQueue", group, later.model_copy(update={"subject": group}).to_json())

    # The consumer moved it itself: a new message in the DLQ, same group, reason attached.
    letter = wait_for(lambda: next((d for d in dead_letters(cloud) if d.group == group), None), timeout=30)

    assert letter.body == '{"type": "OrderTeleported"}'
    assert _batches(cloud, poison)[0]["failed"] == []  # handled on its first delivery, not retried
    assert letter.reason.startswith("MalformedMessage: ValidationError")
    assert "OrderTeleported" in letter.reason
    # The rest of its group is not held back behind it.
    assert wait_for(lambda: api("GET", f"/orders/{group}").body.get("status") == "PENDING")


def _unreadable_view(cloud: LocalCloud) -> str:
    """An order whose read-model summary is corrupt: projecting any event for it fails, and not
    because of the message (a transient failure: retried, then redriven by the queue)."""
    order_id = f"order-{uuid.uuid4()}"
    cloud.client("dynamodb").put_item(
        TableName=cloud.table_name("OrderViews"),
        Item={"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}, "status": {"S": "NOT_A_STATUS"}},
    )
    return order_id


def test_a_failing_message_is_dead_lettered_after_max_receive_count_and_other_groups_flow(
    cloud: LocalCloud, api: Any
) -> None:
    poison_group, other = f"poison-{uuid.uuid4()}", f"order-{uuid.uuid4()}"
    poison = _send(cloud, "OrderHistoryQueue", poison_group, order_created(_unreadable_view(cloud)).to_json())
    _send(cloud, "OrderHistoryQueue", other, order_created(other).to_json())

    letter = wait_for(lambda: next((d for d in dead_letters(cloud) if d.message_id == poison), None), timeout=30)

    assert letter.deliveries == 5  # the queue's maxReceiveCount
    assert letter.reason.startswith("ValidationError")  # from the consumer's "record failed" log line
    assert api("GET", f"/orders/{other}").body["status"] == "PENDING"
    assert all(d.group != other for d in dead_letters(cloud))


def test_a_failure_mid_batch_redelivers_exactly_it_and_the_rest_of_its_group(cloud: LocalCloud, api: Any) -> None:
    # One message group, three messages; the middle one is about an order that cannot be projected.
    group, order = f"group-{uuid.uuid4()}", f"order-{uuid.uuid4()}"
    with cloud.paused():  # the three arrive in one batch
        first = _send(cloud, "OrderHistoryQueue", group, order_created(order).to_json())
        poison = _send(cloud, "OrderHistoryQueue", group, order_created(_unreadable_view(cloud)).to_json())
        last = _send(cloud, "OrderHistoryQueue", group, order_confirmed(order).to_json())

    # As on AWS, the messages behind a failure in their group are failed with it on every
    # receive, so they reach maxReceiveCount together: both are dead-lettered, in order, and
    # the order never jumps to CONFIRMED past the event that failed.
    letters = wait_for(
        lambda: [d for d in dead_letters(cloud) if d.group == group and d.message_id == last], timeout=30
    )

    first_batch = _batches(cloud, first)
    assert len(first_batch) == 1  # delivered once, succeeded, never again
    assert first_batch[0]["failed"] == sorted([poison, last])
    retries = [batch for batch in _batches(cloud, poison) if batch is not first_batch[0]]
    assert len(retries) == 4  # 5 receives in all, then the redrive policy moves them
    for batch in retries:
        assert [mid for mid in batch["message_ids"] if batch["groups"][mid] == group] == [poison, last]
    assert [d.message_id for d in dead_letters(cloud) if d.group == group] == [poison, last]
    assert "previous record from this message group failed" in letters[0].reason
    assert api("GET", f"/orders/{order}").body["status"] == "PENDING"  # never jumped past the failure


def _received(cloud: LocalCloud, queue: str, group: str) -> list[str]:
    """Bodies' event types each consumer received for `group` (first deliveries)."""
    ids = [
        mid
        for kind, d in list(cloud.activity.reports)
        if kind == "sqs_batch" and queue in d["queue"]
        for mid in d["message_ids"]
        if d["groups"][mid] == group
    ]
    return list(dict.fromkeys(ids))


def test_filter_policies_keep_unwanted_events_off_a_queue(cloud: LocalCloud) -> None:
    group = f"order-{uuid.uuid4()}"
    publish_event(cloud, order_created(group))  # for the history queue only
    publish_event(cloud, order_confirmed(group))  # customer-facing: history and notifications

    # Shipping turns the confirmation into OrderShipped, which is customer-facing too.
    channel = RecordingChannel(cloud.table_name("Notifications"), client=cloud.client("dynamodb"))
    sent = wait_for(lambda: len(channel.sent_for(group)) == 2 and channel.sent_for(group))
    cloud.wait_until_idle()

    assert sorted(n.about for n in sent) == ["OrderConfirmed", "OrderShipped"]
    assert len(_received(cloud, "NotificationsQueue", group)) == 2  # OrderCreated never reached it
    assert len(_received(cloud, "ShippingQueue", group)) == 1  # only OrderConfirmed
    assert len(_received(cloud, "OrderHistoryQueue", group)) == 3  # every order event


def test_a_cancelled_transaction_publishes_nothing(cloud: LocalCloud) -> None:
    tables = cloud.deployment.of_type("AWS::DynamoDB::Table")
    outbox = next(str(cloud.deployment.value(lid)) for lid in tables if lid.startswith("TablesOutbox"))
    event = order_created(f"order-{uuid.uuid4()}")
    dynamodb = cloud.client("dynamodb")
    cloud.wait_until_idle()
    relayed_before = [d for kind, d in list(cloud.activity.reports) if kind == "stream_batch"]

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": outbox,
                        "Item": {"event_id": {"S": event.id}, "envelope": {"S": event.to_json()}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": outbox,
                        "Key": {"event_id": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(event_id)",
                    }
                },
            ]
        )

    time.sleep(1.0)
    assert cloud.wait_until_idle()
    assert [d for kind, d in list(cloud.activity.reports) if kind == "stream_batch"] == relayed_before


def test_a_stream_batch_that_keeps_failing_goes_to_the_on_failure_destination(cloud: LocalCloud, api: Any) -> None:
    relay = cloud.function_name("BackboneRelay")
    cloud.runtime.inject_fault(relay, "ServiceUnavailable", "the bus is unreachable")
    try:
        order_id = api("POST", "/orders", order_request()).body["order_id"]
        discarded = wait_for(
            lambda: [d for kind, d in list(cloud.activity.reports) if kind == "stream_batch_discarded"], timeout=30
        )
    finally:
        cloud.runtime.clear_faults()

    failures = cloud.queue_url("BackboneRelayFailures")
    (message,) = cloud.client("sqs").receive_message(QueueUrl=failures, MaxNumberOfMessages=10)["Messages"]
    cloud.client("sqs").delete_message(QueueUrl=failures, ReceiptHandle=message["ReceiptHandle"])  # leave none
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert discarded[0]["responseContext"]["functionError"] == "ServiceUnavailable"
    # The event is still in the outbox for a replay; nothing was published for it.
    assert api("GET", f"/orders/{order_id}").body["timeline"] == []


def test_an_operator_sees_the_templates_queues_rules_and_targets(cloud: LocalCloud) -> None:
    """What `aws sqs list-queues` and `aws events list-targets-by-rule` show is the template's:
    no queue of the local cloud's own, no target rewritten."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    listed = set(sqs.list_queues(MaxResults=1000).get("QueueUrls", []))
    test_queues = {url for url in listed if not url.rsplit("/", 1)[-1].startswith("orderflow-")}  # other tests' taps

    assert listed - test_queues == {
        str(cloud.deployment.value(lid)) for lid in cloud.deployment.of_type("AWS::SQS::Queue")
    }
    assert cloud.deployment.rules
    for rule in cloud.deployment.rules:  # both on the stack's bus
        targets = events.list_targets_by_rule(Rule=rule.name, EventBusName=cloud.deployment.outputs["EventBus"])
        assert [target["Arn"] for target in targets["Targets"]] == [target.arn for target in rule.targets]
        assert [target.get("RoleArn") for target in targets["Targets"]] == [target.role_arn for target in rule.targets]


def test_functions_run_on_the_runtimes_python_with_only_the_layers_packages(cloud: LocalCloud) -> None:
    """The template names python3.13: where it is installed, an execution environment runs on
    it and loads pydantic's compiled core from the dependencies layer's wheels, nothing from
    the development virtualenv."""
    name = cloud.function_name("OrdersApi")
    spec = cloud.runtime.functions[name]
    interpreter = lambda_python.installed(spec.runtime)
    if interpreter is None:
        pytest.skip(f"{spec.runtime} is not installed here: functions run on the virtualenv's Python")
    event = json.loads((EVENTS / "apigw_rest_request.json").read_text())
    answer = cloud.runtime.invoke(name, {**event, "httpMethod": "GET", "path": "/products", "resource": "/products"})

    assert not answer.failed, answer.error
    process = Path(f"/proc/{answer.environment}")
    assert Path(os.readlink(process / "exe")).resolve() == Path(interpreter).resolve()
    loaded = {line.split()[-1] for line in (process / "maps").read_text().splitlines() if line.endswith(".so")}
    (core,) = [path for path in loaded if "_pydantic_core" in path]
    layers = [str(layer) for layer in spec.layer_dirs]
    assert any(core.startswith(layer) for layer in layers), core
    assert not [path for path in loaded if "/.venv/" in path]
