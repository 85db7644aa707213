"""The relay, the projector and the notifier on moto, each fed what the previous hop produced:
the outbox stream, the FIFO queues behind the topic's filter policies, and the bus."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from orderflow.adapters.notifications import RecordingChannel
from orderflow.events import parse_event
from orderflow.settings import load
from tests.conftest import LambdaContext
from tests.integration.conftest import body
from tests.support.aws import Resources, receive_all, stream_records
from tests.support.factories import (
    api_request,
    order_confirmed,
    order_created,
    order_request,
    order_shipped,
    sqs_body_event,
    sqs_event,
    stream_event,
)


@pytest.fixture
def place_order(seeded: Resources, handler_module: Callable[[str], ModuleType]) -> Callable[[], str]:
    api = handler_module("orders_api")

    def place() -> str:
        response = api.handler(api_request("POST", "/orders", body=order_request()), LambdaContext())
        return str(body(response)["order_id"])

    return place


@pytest.fixture
def relay(handler_module: Callable[[str], ModuleType], seeded: Resources) -> Callable[[], dict[str, Any]]:
    """Run the relay on every outbox stream record not yet relayed."""
    module = handler_module("outbox_relay")
    done: set[str] = set()

    def run() -> dict[str, Any]:
        records = [r for r in stream_records(boto3, seeded.outbox_stream_arn) if r["eventID"] not in done]
        done.update(record["eventID"] for record in records)
        return module.handler(stream_event(records), LambdaContext(function_name="outbox-relay"))

    return run


def _project(handler_module: Callable[[str], ModuleType], messages: list[dict[str, Any]]) -> dict[str, Any]:
    module = handler_module("history_projector")
    return module.handler(sqs_event(messages), LambdaContext(function_name="history-projector"))


def test_relay_publishes_to_the_topic_and_the_bus(
    place_order: Callable[[], str], relay: Callable[[], dict[str, Any]], seeded: Resources
) -> None:
    order_id = place_order()

    assert relay() == {"batchItemFailures": []}

    (message,) = receive_all(boto3, seeded.history_queue_url)
    assert message["Attributes"]["MessageGroupId"] == order_id
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "OrderCreated"
    event = parse_event(message["Body"])
    assert (event.type, event.subject) == ("OrderCreated", order_id)
    assert message["Attributes"]["MessageDeduplicationId"] == event.id

    (routed,) = receive_all(boto3, seeded.saga_starts_queue_url)  # the bus's start-saga rule
    envelope = json.loads(routed["Body"])
    assert (envelope["detail-type"], envelope["source"], envelope["detail"]["id"]) == (
        "OrderCreated",
        "orderflow.orders",
        event.id,
    )


def test_filter_policy_keeps_order_created_off_the_notifications_queue(
    place_order: Callable[[], str], relay: Callable[[], dict[str, Any]], seeded: Resources
) -> None:
    place_order()
    relay()

    assert receive_all(boto3, seeded.notifications_queue_url) == []
    assert len(receive_all(boto3, seeded.history_queue_url)) == 1


def test_relay_publishes_a_stream_batch_in_order(
    place_order: Callable[[], str], relay: Callable[[], dict[str, Any]], seeded: Resources
) -> None:
    order_ids = [place_order() for _ in range(12)]  # two PublishBatch and two PutEvents calls

    assert relay() == {"batchItemFailures": []}

    assert [m["Attributes"]["MessageGroupId"] for m in receive_all(boto3, seeded.history_queue_url)] == order_ids
    routed = [json.loads(m["Body"])["detail"]["subject"] for m in receive_all(boto3, seeded.saga_starts_queue_url)]
    assert sorted(routed) == sorted(order_ids)  # a standard queue: no order promised


def test_a_refused_batch_is_retried_from_the_first_event_not_published_everywhere(
    place_order: Callable[[], str],
    seeded: Resources,
    monkeypatch: pytest.MonkeyPatch,
    handler_module: Callable[[str], ModuleType],
) -> None:
    order_ids = [place_order() for _ in range(3)]
    records = stream_records(boto3, seeded.outbox_stream_arn)
    monkeypatch.setenv("EVENT_BUS_NAME", "deleted-bus")
    load.cache_clear()

    answer = handler_module("outbox_relay").handler(stream_event(records), LambdaContext())

    # The topic took all three, the bus none: Lambda retries from the first record.
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    monkeypatch.setenv("EVENT_BUS_NAME", seeded.event_bus)
    load.cache_clear()
    assert handler_module("outbox_relay").handler(stream_event(records), LambdaContext()) == {"batchItemFailures": []}
    # Published again to the topic, delivered once (deduplicated by event id); on the bus once.
    assert [m["Attributes"]["MessageGroupId"] for m in receive_all(boto3, seeded.history_queue_url)] == order_ids
    assert len(receive_all(boto3, seeded.saga_starts_queue_url)) == 3


def test_projector_builds_the_read_model_the_api_returns(
    place_order: Callable[[], str],
    relay: Callable[[], dict[str, Any]],
    seeded: Resources,
    handler_module: Callable[[str], ModuleType],
) -> None:
    order_id = place_order()
    relay()

    assert _project(handler_module, receive_all(boto3, seeded.history_queue_url)) == {"batchItemFailures": []}

    api = handler_module("orders_api")
    details = body(
        api.handler(api_request("GET", f"/orders/{order_id}", path_parameters={"order_id": order_id}), LambdaContext())
    )
    assert details["status"] == "PENDING"
    assert [entry["type"] for entry in details["timeline"]] == ["OrderCreated"]
    assert details["items"][0]["sku"] == "KB-001"


def _view(order_id: str, handler_module: Callable[[str], ModuleType]) -> dict[str, Any]:
    api = handler_module("orders_api")
    request = api_request("GET", f"/orders/{order_id}", path_parameters={"order_id": order_id})
    return dict(body(api.handler(request, LambdaContext())))


def _projector(handler_module: Callable[[str], ModuleType]) -> Callable[[list[tuple[str, str]]], dict[str, Any]]:
    module = handler_module("history_projector")
    return lambda bodies: module.handler(sqs_body_event(bodies), LambdaContext())


def test_a_duplicate_event_changes_nothing(handler_module: Callable[[str], ModuleType], aws: Resources) -> None:
    project = _projector(handler_module)
    created, confirmed = order_created("o-1"), order_confirmed("o-1")
    project([("o-1", created.to_json()), ("o-1", confirmed.to_json())])
    before = _view("o-1", handler_module)

    assert project([("o-1", confirmed.to_json()), ("o-1", created.to_json())]) == {"batchItemFailures": []}

    assert _view("o-1", handler_module) == before
    assert before["status"] == "CONFIRMED"


def test_a_stale_event_does_not_move_the_order_back(
    handler_module: Callable[[str], ModuleType], aws: Resources
) -> None:
    project = _projector(handler_module)
    project([("o-2", order_created("o-2").to_json()), ("o-2", order_shipped("o-2", sequence=3).to_json())])

    project([("o-2", order_confirmed("o-2", sequence=2).to_json())])

    view = _view("o-2", handler_module)
    assert view["status"] == "SHIPPED"
    assert [entry["type"] for entry in view["timeline"]] == ["OrderCreated", "OrderConfirmed", "OrderShipped"]


def test_a_poison_message_fails_only_its_own_order_group(
    handler_module: Callable[[str], ModuleType], aws: Resources
) -> None:
    project = _projector(handler_module)
    batch = [
        ("o-bad", "this is not an event"),
        ("o-bad", order_created("o-bad").to_json()),
        ("o-good", order_created("o-good").to_json()),
        ("o-good", order_confirmed("o-good").to_json()),
    ]

    response = project(batch)

    # The poison message and the later message of its group are returned for retry (FIFO
    # order); the other order's messages are applied.
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}, {"itemIdentifier": "message-1"}]}
    assert _view("o-good", handler_module)["status"] == "CONFIRMED"
    assert _view("o-bad", handler_module) == {
        "message": "Order o-bad not found",
        "errors": [{"field": "order_id", "problem": "no such order"}],
    }


def test_notifier_records_one_notification_per_event(
    handler_module: Callable[[str], ModuleType], aws: Resources
) -> None:
    notifier = handler_module("notifier")
    confirmed = order_confirmed("o-3")
    batch = sqs_body_event([("o-3", confirmed.to_json())])

    first = notifier.handler(batch, LambdaContext(function_name="notifier"))
    again = notifier.handler(batch, LambdaContext(function_name="notifier"))

    assert first == again == {"batchItemFailures": []}
    sent = RecordingChannel(aws.notifications_table).sent_for("o-3")
    assert [(n.notification_id, n.about) for n in sent] == [(confirmed.id, "OrderConfirmed")]


def test_notifier_fails_an_event_it_was_never_meant_to_get(
    handler_module: Callable[[str], ModuleType], aws: Resources
) -> None:
    notifier = handler_module("notifier")

    batch = sqs_body_event([("o-4", order_created("o-4").to_json()), ("o-5", order_confirmed("o-5").to_json())])

    response = notifier.handler(batch, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    channel = RecordingChannel(aws.notifications_table)
    assert channel.sent_for("o-4") == []
    assert len(channel.sent_for("o-5")) == 1
