"""The stack on moto: the synthesized template provisioned by the local cloud's provisioner, so
the integration tests run the handlers against the very tables, keys, queues (visibility
timeouts, redrive policies), topic subscriptions (filter policies), bus and rules `infra/`
declares, and hand them the environment the template gives the functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow.contracts import Env, Service

if TYPE_CHECKING:
    from localcloud.provision import Deployment, FunctionSpec

REGION = "eu-west-1"


@dataclass(frozen=True)
class Resources:
    """What the stack provisioned, found as its functions find it: table names, the topic and
    the bus from the environment the template sets; queues and the outbox stream from the
    functions' event source mappings."""

    deployment: Deployment

    @cached_property
    def environment(self) -> dict[str, str]:
        """Every `Env` variable the template sets on some function, with its value."""
        names = set(Env)
        return {
            name: value
            for spec in self.deployment.functions.values()
            for name, value in spec.environment.items()
            if name in names and name != Env.DEAD_LETTER_QUEUE_URL  # one per consumer, not shared
        }

    def _function(self, service: Service) -> FunctionSpec:
        """The function that calls itself `service` (its Powertools service name)."""
        (spec,) = [
            spec
            for spec in self.deployment.functions.values()
            if spec.environment.get("POWERTOOLS_SERVICE_NAME") == service
        ]
        return spec

    def consumed_by(self, service: Service) -> str:
        """The source of the function's event source mapping: a queue's URL or a stream's ARN."""
        name = self._function(service).name
        (source,) = [mapping.source_arn for mapping in self.deployment.event_sources if mapping.function_name == name]
        return self.deployment.queue_urls.get(source, source)

    def function_arn(self, service: Service) -> str:
        return self._function(service).arn

    def queue_url(self, logical_prefix: str) -> str:
        """A queue by the start of its logical id in `infra/` (`BackboneRelayFailures`)."""
        return self.deployment.queue_url(logical_prefix)

    @property
    def orders_table(self) -> str:
        return self.environment[Env.ORDERS_TABLE]

    @property
    def outbox_table(self) -> str:
        return self.environment[Env.OUTBOX_TABLE]

    @property
    def catalogue_table(self) -> str:
        return self.environment[Env.CATALOGUE_TABLE]

    @property
    def reservations_table(self) -> str:
        return self.environment[Env.RESERVATIONS_TABLE]

    @property
    def order_views_table(self) -> str:
        return self.environment[Env.ORDER_VIEWS_TABLE]

    @property
    def notifications_table(self) -> str:
        return self.environment[Env.NOTIFICATIONS_TABLE]

    @property
    def idempotency_table(self) -> str:
        return self.environment[Env.IDEMPOTENCY_TABLE]

    @property
    def payments_table(self) -> str:
        return self.environment[Env.PAYMENTS_TABLE]

    @property
    def shipments_table(self) -> str:
        return self.environment[Env.SHIPMENTS_TABLE]

    @property
    def ledger_table(self) -> str:
        return self.environment[Env.LEDGER_TABLE]

    @property
    def event_bus(self) -> str:
        return self.environment[Env.EVENT_BUS_NAME]

    @property
    def topic_arn(self) -> str:
        return self.environment[Env.ORDER_EVENTS_TOPIC_ARN]

    @property
    def outbox_stream_arn(self) -> str:
        return self.consumed_by(Service.OUTBOX_RELAY)

    @property
    def history_queue_url(self) -> str:
        return self.consumed_by(Service.HISTORY_PROJECTOR)

    @property
    def notifications_queue_url(self) -> str:
        return self.consumed_by(Service.NOTIFIER)

    @property
    def saga_starts_queue_url(self) -> str:
        """Where the bus's start-saga rule sends `OrderCreated`."""
        return self.consumed_by(Service.SAGA_STARTER)


class Clients:
    """One boto3 client per service, made once: making one reads its service's model files,
    which would cost more than provisioning the whole stack. (moto intercepts every client
    made after it is imported, whichever mock is active when it sends.)"""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, region_name=REGION)
        return self._clients[service]


def provision_stack(clients: Clients, template: Path) -> Resources:
    """The template's resources, created on an active moto mock as the local cloud creates them.
    (Imported here: the provisioner reads the region when imported, after `tests/conftest.py`
    has set the tests' own.)"""
    from localcloud.provision import Provisioner

    return Resources(Provisioner(template, clients).provision())


def subscribed_queue(sqs: Any, sns: Any, topic_arn: str, name: str, *, raw: bool = False) -> tuple[str, str]:
    """A queue of the test's own subscribed to the topic, its policy letting that topic send (a
    `.fifo` name makes a FIFO queue, as a FIFO topic needs): (queue URL, subscription ARN)."""
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    subscription = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"} if raw else {},
        ReturnSubscriptionArn=True,
    )
    return url, str(subscription["SubscriptionArn"])


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
