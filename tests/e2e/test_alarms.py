"""The template's alarms on the local cloud: a poison message puts its DLQ's alarm into ALARM
within its (local) period, `describe-alarms` shows it, CloudWatch's notification reaches a
subscriber of the alert topic, the alarm goes back to OK once the DLQ is empty, and the metric
behind it is readable with `get-metric-data`. Without the topic policy's statement for
CloudWatch, the notification is refused as SNS refuses it and never delivered."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.e2e.test_fidelity import _send
from tests.e2e.test_order_flow import wait_for
from tests.support.aws import subscribed_queue
from tests.support.factories import order_created

POISON = "{this is not json"
QUEUE, DLQ = "OrderHistoryQueue", "OrderHistoryDeadLetterQueue"


def _alarm(cloud: LocalCloud) -> dict[str, Any]:
    """The DLQ's alarm as `aws cloudwatch describe-alarms` shows it."""
    dlq_name = cloud.queue_url(DLQ).rsplit("/", 1)[-1]
    alarms = cloud.client("cloudwatch").describe_alarms()["MetricAlarms"]
    (alarm,) = [
        a
        for a in alarms
        if any(
            q["MetricStat"]["Metric"].get("Dimensions") == [{"Name": "QueueName", "Value": dlq_name}]
            for q in a.get("Metrics", [])
        )
    ]
    return dict(alarm)


def _drain(cloud: LocalCloud, queue: str) -> None:
    sqs = cloud.client("sqs")
    while messages := sqs.receive_message(QueueUrl=cloud.queue_url(queue), MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=cloud.queue_url(queue), ReceiptHandle=message["ReceiptHandle"])


def _state(cloud: LocalCloud, wanted: str, timeout: float) -> dict[str, Any]:
    return dict(wait_for(lambda: (alarm := _alarm(cloud))["StateValue"] == wanted and alarm, timeout=timeout))


@pytest.fixture
def subscriber(cloud: LocalCloud) -> Iterator[str]:
    """A queue of the test's own subscribed to the alert topic, its policy letting the topic send."""
    sns = cloud.client("sns")
    topic = str(cloud.deployment.outputs["AlertTopic"])
    url, subscription = subscribed_queue(cloud.client("sqs"), sns, topic, f"alerts-{uuid.uuid4().hex[:8]}")
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)  # the queue stays: SNS's sends
    # to it are judged again by `test_least_privilege.py`, against the policy it has


def _notifications(cloud: LocalCloud, url: str, alarm_name: str, state: str) -> list[dict[str, Any]]:
    """The notifications of the alarm's changes to `state` the subscriber received (taken)."""
    sqs = cloud.client("sqs")
    found = []
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        notification = json.loads(json.loads(message["Body"])["Message"])
        if (notification["AlarmName"], notification["NewStateValue"]) == (alarm_name, state):
            found.append(notification)
    return found


def _period(cloud: LocalCloud, alarm: dict[str, Any]) -> float:
    """The alarm's period, locally."""
    return float(alarm["Metrics"][0]["MetricStat"]["Period"]) / cloud.config.cloudwatch_time_scale


def test_a_poison_message_alarms_notifies_and_clears(cloud: LocalCloud, subscriber: str) -> None:
    _drain(cloud, DLQ)  # what earlier tests left there
    alarm = _alarm(cloud)
    _state(cloud, "OK", timeout=3 * _period(cloud, alarm) + 5)
    before = time.monotonic()

    _send(cloud, QUEUE, f"poison-{uuid.uuid4()}", POISON)

    alarmed = _state(cloud, "ALARM", timeout=3 * _period(cloud, alarm) + 10)
    assert time.monotonic() - before < 2 * _period(cloud, alarm) + 10
    assert alarmed["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    (notification,) = wait_for(lambda: _notifications(cloud, subscriber, alarm["AlarmName"], "ALARM"), timeout=10)
    assert (notification["OldStateValue"], notification["NewStateValue"]) == ("OK", "ALARM")
    assert notification["AlarmArn"] == alarm["AlarmArn"]
    (query,) = notification["Trigger"]["Metrics"]
    assert query["MetricStat"]["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    shown = cloud.api.request("GET", "/_local/dashboards.json?range=60").body["notifications"]  # on the page
    assert {"alarm": alarm["AlarmName"], "state": "ALARM", "delivered": True} in [
        {key: n[key] for key in ("alarm", "state", "delivered")} for n in shown
    ]

    _drain(cloud, DLQ)

    _state(cloud, "OK", timeout=3 * _period(cloud, alarm) + 10)
    now = datetime.now(UTC)
    queries = [{"Id": "m1", "MetricStat": alarm["Metrics"][0]["MetricStat"] | {"Period": 1}, "ReturnData": True}]
    data = cloud.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1)
    )
    assert max(data["MetricDataResults"][0]["Values"]) >= 1  # the message in the DLQ, as CloudWatch saw it


@pytest.mark.denials_expected
def test_without_the_topic_policys_statement_the_notification_is_refused(cloud: LocalCloud, subscriber: str) -> None:
    topic = str(cloud.deployment.outputs["AlertTopic"])
    (statements,) = [d["Statement"] for d in cloud.deployment.permissions.resource_policies[topic]]
    (index,) = [i for i, s in enumerate(statements) if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    _drain(cloud, DLQ)
    alarm = _alarm(cloud)
    _state(cloud, "OK", timeout=3 * _period(cloud, alarm) + 5)
    denied_before = len(cloud.access.denials)
    statement = statements.pop(index)
    try:
        _send(cloud, QUEUE, f"poison-{uuid.uuid4()}", POISON)
        _state(cloud, "ALARM", timeout=3 * _period(cloud, alarm) + 10)
        denial = wait_for(
            lambda: next((d for d in cloud.access.denials[denied_before:] if d.action == "sns:Publish"), None)
        )
    finally:
        statements.insert(index, statement)
        _drain(cloud, DLQ)

    assert denial.message == (
        f"User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish on resource: {topic} "
        "because no resource-based policy allows the sns:Publish action"
    )
    assert _notifications(cloud, subscriber, alarm["AlarmName"], "ALARM") == []
    assert any(n["alarm"] == alarm["AlarmName"] and not n["delivered"] for n in cloud.cloudwatch.notifications)


def test_a_message_redriven_from_the_console_empties_the_dlq_and_clears_the_alarm(cloud: LocalCloud) -> None:
    """An event the projector failed on while its store was down (injected) reaches the DLQ after
    `maxReceiveCount`; once the store is back, the page's console redrives it: applied, the DLQ
    empty and its alarm back to OK."""
    dlq_name = cloud.queue_url(DLQ).rsplit("/", 1)[-1]
    _drain(cloud, DLQ)
    alarm = _alarm(cloud)
    _state(cloud, "OK", timeout=3 * _period(cloud, alarm) + 5)
    order_id = f"console-{uuid.uuid4()}"
    projector = cloud.function_name("OrderHistoryConsumer")
    cloud.runtime.inject_fault(projector, "ServiceUnavailable", "the read model is unreachable (injected)")
    try:
        _send(cloud, QUEUE, order_id, order_created(order_id).to_json())
        _state(cloud, "ALARM", timeout=60)
    finally:
        cloud.runtime.clear_faults()

    console = cloud.api.request("GET", "/_local/dead-letters.json").body
    (queue,) = [q for q in console["queues"] if q["name"] == dlq_name]
    (group,) = queue["reasons"]
    (letter,) = group["letters"]
    assert (letter["order_id"], letter["event_type"], letter["group"]) == (order_id, "OrderCreated", order_id)
    assert "ServiceUnavailable" in group["reason"]
    refused = [
        cloud.api.request("POST", "/_local/redrive", {"queue": dlq_name, "message_ids": letter["message_id"]}),
        cloud.api.request("POST", "/_local/redrive", {"queue": dlq_name}, {"Origin": "https://elsewhere.example"}),
        cloud.api.request("POST", "/_local/redrive", b"queue=all", {"Content-Type": "text/plain"}),
    ]
    assert [answer.status for answer in refused] == [400, 403, 403]  # nothing moved by any of them
    answer = cloud.api.request("POST", "/_local/redrive", {"queue": dlq_name, "message_ids": [letter["message_id"]]})

    assert (answer.status, answer.body["redriven"]) == (200, 1)
    cloud.wait_for_log("event projected", contains=order_id)
    _state(cloud, "OK", timeout=3 * _period(cloud, alarm) + 10)
    after = cloud.api.request("GET", "/_local/dead-letters.json").body["queues"]
    assert [(q["depth"], q["reasons"]) for q in after if q["name"] == dlq_name] == [(0, [])]
