"""The AWS resources the handlers need, created on moto with the names and keys from
`orderflow.contracts` (the same ones `infra/` declares)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS, Env, Key, MessageAttribute

REGION = "eu-west-1"


@dataclass(frozen=True)
class Resources:
    orders_table: str = "orders"
    outbox_table: str = "outbox"
    catalogue_table: str = "catalogue"
    reservations_table: str = "reservations"
    order_views_table: str = "order-views"
    notifications_table: str = "notifications"
    idempotency_table: str = "idempotency"
    payments_table: str = "payments"
    shipments_table: str = "shipments"
    ledger_table: str = "payment-ledger"
    event_bus: str = "orderflow"
    topic_arn: str = ""
    history_queue_url: str = ""
    notifications_queue_url: str = ""
    bus_queue_url: str = ""
    outbox_stream_arn: str = ""

    def environment(self) -> dict[str, str]:
        return {
            Env.ORDERS_TABLE: self.orders_table,
            Env.OUTBOX_TABLE: self.outbox_table,
            Env.CATALOGUE_TABLE: self.catalogue_table,
            Env.RESERVATIONS_TABLE: self.reservations_table,
            Env.ORDER_VIEWS_TABLE: self.order_views_table,
            Env.NOTIFICATIONS_TABLE: self.notifications_table,
            Env.IDEMPOTENCY_TABLE: self.idempotency_table,
            Env.PAYMENTS_TABLE: self.payments_table,
            Env.SHIPMENTS_TABLE: self.shipments_table,
            Env.LEDGER_TABLE: self.ledger_table,
            Env.EVENT_BUS_NAME: self.event_bus,
            Env.ORDER_EVENTS_TOPIC_ARN: self.topic_arn,
        }


def _table(client: Any, name: str, pk: str, sk: str | None = None, *, stream: bool = False) -> dict[str, Any]:
    keys = [{"AttributeName": pk, "KeyType": "HASH"}]
    attributes = [{"AttributeName": pk, "AttributeType": "S"}]
    if sk:
        keys.append({"AttributeName": sk, "KeyType": "RANGE"})
        attributes.append({"AttributeName": sk, "AttributeType": "S"})
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    return client.create_table(
        TableName=name, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST", **extra
    )["TableDescription"]


def _fifo_queue(sqs: Any, name: str) -> str:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]


def _subscribe(sns: Any, sqs: Any, topic_arn: str, queue_url: str, event_types: tuple[str, ...]) -> None:
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({MessageAttribute.EVENT_TYPE: list(event_types)}),
        },
    )


def create_resources(session: Any) -> Resources:
    """Tables, topic, queues and bus as the stack defines them (on an active moto mock)."""
    dynamodb = session.client("dynamodb", region_name=REGION)
    base = Resources()
    _table(dynamodb, base.orders_table, Key.ORDER_ID)
    outbox = _table(dynamodb, base.outbox_table, Key.EVENT_ID, stream=True)
    _table(dynamodb, base.catalogue_table, Key.SKU)
    _table(dynamodb, base.reservations_table, Key.ORDER_ID)
    _table(dynamodb, base.order_views_table, Key.ORDER_ID, Key.VIEW_SK)
    _table(dynamodb, base.notifications_table, Key.ORDER_ID, Key.NOTIFICATION_SK)
    _table(dynamodb, base.idempotency_table, Key.IDEMPOTENCY_ID)
    _table(dynamodb, base.payments_table, Key.ORDER_ID)
    _table(dynamodb, base.shipments_table, Key.ORDER_ID)
    _table(dynamodb, base.ledger_table, Key.LEDGER_KEY)

    sns = session.client("sns", region_name=REGION)
    sqs = session.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(
        Name="order-events.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    history = _fifo_queue(sqs, "order-history")
    notifications = _fifo_queue(sqs, "notifications")
    _subscribe(sns, sqs, topic_arn, history, tuple(ORDER_EVENTS))
    _subscribe(sns, sqs, topic_arn, notifications, tuple(CUSTOMER_FACING_EVENTS))

    events = session.client("events", region_name=REGION)
    events.create_event_bus(Name=base.event_bus)
    bus_queue = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    bus_queue_arn = sqs.get_queue_attributes(QueueUrl=bus_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="all-events", EventBusName=base.event_bus, EventPattern=json.dumps({"source": [{"prefix": "orderflow."}]})
    )
    events.put_targets(Rule="all-events", EventBusName=base.event_bus, Targets=[{"Id": "tap", "Arn": bus_queue_arn}])

    return Resources(
        topic_arn=topic_arn,
        history_queue_url=history,
        notifications_queue_url=notifications,
        bus_queue_url=bus_queue,
        outbox_stream_arn=outbox["LatestStreamArn"],
    )


def stream_records(session: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record on the table's stream so far (all shards, from the start)."""
    streams = session.client("dynamodbstreams", region_name=REGION)
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        answer = streams.get_records(ShardIterator=iterator)
        records.extend(answer["Records"])
    return records


def receive_all(session: Any, queue_url: str, *, delete: bool = True) -> list[dict[str, Any]]:
    """Drain the queue: every visible message with its attributes, in delivery order."""
    sqs = session.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        if delete:
            for message in batch:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def item_count(session: Any, table: str) -> int:
    return int(session.client("dynamodb", region_name=REGION).scan(TableName=table, Select="COUNT")["Count"])
