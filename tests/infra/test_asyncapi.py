"""The AsyncAPI document: current with the stack and the event models, valid AsyncAPI 3.0, and
describing what the template deploys."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from aws_cdk.assertions import Template

from infra.asyncapi import DOCUMENT, SPECIFICATION, generate, render
from orderflow.contracts import CUSTOMER_FACING_EVENTS, PUBLISHED_EVENTS, EventSource, EventType
from orderflow.events.models import OrderCreated, OrderCreatedData, OrderLine


@pytest.fixture(scope="module")
def document(template: Template) -> dict[str, Any]:
    return generate(template.to_json(), stage="prod")


@pytest.fixture(scope="module")
def specification() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SPECIFICATION.read_text()))


def test_committed_document_is_current(document: dict[str, Any]) -> None:
    # `make asyncapi` regenerates it; a changed model, queue, subscription or rule without it fails here.
    assert DOCUMENT.read_text() == render(document)


def test_document_validates_against_the_asyncapi_3_schema(
    document: dict[str, Any], specification: jsonschema.Draft7Validator
) -> None:
    assert [error.message for error in specification.iter_errors(document)] == []


@pytest.mark.parametrize(
    ("where", "break_it"),
    [
        (
            "sns binding without the topic's name",
            lambda d: d["channels"]["BackboneOrderEvents"]["bindings"]["sns"].pop("name"),
        ),
        (
            "an ordering SNS does not have",
            lambda d: d["channels"]["BackboneOrderEvents"]["bindings"]["sns"]["ordering"].update(type="fifo"),
        ),
        (
            "sqs queue not saying whether it is FIFO",
            lambda d: d["channels"]["OrderHistoryQueue"]["bindings"]["sqs"]["queue"].pop("fifoQueue"),
        ),
        ("operation on no channel", lambda d: d["operations"]["publishBackboneOrderEvents"].pop("channel")),
    ],
)
def test_the_schema_check_catches_a_planted_fault(
    document: dict[str, Any], specification: jsonschema.Draft7Validator, where: str, break_it: Any
) -> None:
    broken = copy.deepcopy(document)
    break_it(broken)
    assert list(specification.iter_errors(broken)), where


def _resolves(document: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        if "$ref" in node and node["$ref"].startswith("#/"):
            target: Any = document
            for part in node["$ref"][2:].split("/"):
                target = target[part]
        for value in node.values():
            _resolves(document, value)
    elif isinstance(node, list):
        for value in node:
            _resolves(document, value)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    _resolves(document, document)


def test_channels_are_what_the_template_deploys(document: dict[str, Any], template: Template) -> None:
    resources = template.to_json()["Resources"]
    queues = [logical_id for logical_id, resource in resources.items() if resource["Type"] == "AWS::SQS::Queue"]
    channels = document["channels"]
    assert len(queues) == sum("sqs" in channel.get("bindings", {}) for channel in channels.values())
    messages = {name: set(channel.get("messages", {})) for name, channel in channels.items()}
    assert messages["BackboneOrderEvents"] == {str(event) for event in PUBLISHED_EVENTS}
    assert messages["BackboneBus"] == {f"{event}.bus" for event in PUBLISHED_EVENTS}
    # Each subscriber gets what its filter policy lets through, and its DLQ the same.
    assert messages["NotificationsQueue"] == messages["NotificationsDeadLetterQueue"] == set(CUSTOMER_FACING_EVENTS)
    assert messages["FulfilmentShippingQueue"] == {EventType.ORDER_CONFIRMED}
    # A rule's target gets the event as EventBridge delivers it; a transformed input, its own model.
    assert messages["FulfilmentSagaStartsQueue"] == {"OrderCreated.bus"}
    assert messages["AlertsTopic"] == {"LowStock", "AlarmNotification"}
    assert messages["FulfilmentRuleFailures"] == {"OrderCreated.bus", "InventoryUpdated.bus"}
    assert messages["FulfilmentPaymentsQueue"] == {EventType.PROCESS_PAYMENT}
    assert messages["BackboneRelayFailures"] == {"StreamBatchFailure"}
    history = channels["OrderHistoryQueue"]["bindings"]["sqs"]
    assert history["queue"]["fifoQueue"] is True
    assert history["queue"]["redrivePolicy"] == {
        "deadLetterQueue": {"name": "OrderHistoryDeadLetterQueue"},
        "maxReceiveCount": 5,
    }
    assert history["deadLetterQueue"]["name"] == "OrderHistoryDeadLetterQueue"
    consumers = document["operations"]["publishBackboneOrderEvents"]["bindings"]["sns"]["consumers"]
    assert {consumer["endpoint"]["name"] for consumer in consumers} == {
        "OrderHistoryQueue",
        "NotificationsQueue",
        "FulfilmentShippingQueue",
    }
    assert all(consumer["rawMessageDelivery"] and "redrivePolicy" in consumer for consumer in consumers)


def test_an_event_validates_against_its_message_payload(document: dict[str, Any]) -> None:
    event = OrderCreated.new(
        source=EventSource.ORDERS,
        subject="order-1",
        correlation_id="corr-1",
        sequence=1,
        data=OrderCreatedData(
            customer_id="customer-1",
            items=[OrderLine(sku="CB-005", name="USB-C cable", quantity=2, unit_price=Decimal("9.90"))],
            total=Decimal("19.80"),
            currency="EUR",
            payment_token="tok_ok",
        ),
    ).to_dict()
    message = document["components"]["messages"]["OrderCreated"]
    payload = jsonschema.Draft202012Validator({**message["payload"], "components": document["components"]})
    assert list(payload.iter_errors(event)) == []
    assert list(payload.iter_errors({**event, "correlation_id": ""}))  # the model's limits are the schema's
    bus = jsonschema.Draft202012Validator(
        {**document["components"]["messages"]["OrderCreated.bus"]["payload"], "components": document["components"]}
    )
    assert list(bus.iter_errors({"detail-type": "OrderCreated", "source": "orderflow.orders", "detail": event})) == []
    assert list(bus.iter_errors({"detail-type": "OrderShipped", "source": "orderflow.orders", "detail": event}))
