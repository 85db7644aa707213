"""One correlation id end to end, and the metrics every function emits (EMF), read from the
log lines the functions printed on the local cloud."""

from __future__ import annotations

import json
import uuid
from typing import Any

from localcloud.cloud import LocalCloud
from orderflow.events import parse_event
from tests.e2e.saga_support import place, wait_terminal

TOUCHING = (
    "OrdersApiFunction",
    "BackboneRelay",
    "OrderHistoryConsumer",
    "NotificationsConsumer",
    "FulfilmentSagaStartsConsumer",
    "FulfilmentReserveInventory",
    "FulfilmentPaymentsConsumer",
    "FulfilmentOrderSteps",
    "FulfilmentShippingConsumer",
)


def _lines(cloud: LocalCloud, function: str) -> list[dict[str, Any]]:
    return [entry for name, entry in list(cloud.activity.logs) if name == function and isinstance(entry, dict)]


def test_one_correlation_id_follows_an_order_through_every_function_and_event(cloud: LocalCloud) -> None:
    correlation_id = f"checkout-{uuid.uuid4()}"
    body = {
        "customer_id": "obs",
        "items": [{"sku": "MS-002", "quantity": 1}],
        "currency": "EUR",
        "payment_token": "tok_ok",
    }
    placed = cloud.api.request("POST", "/orders", body, {"X-Correlation-Id": correlation_id})
    order_id = placed.body["order_id"]
    assert placed.headers["X-Correlation-Id"] == correlation_id
    wait_terminal(cloud, order_id)
    cloud.wait_until_idle()

    for logical in TOUCHING:
        lines = [line for line in _lines(cloud, cloud.function_name(logical)) if line.get("order_id") == order_id]
        assert lines, f"{logical} logged nothing for the order"
        # Every line about this order, per record in batch handlers, carries its correlation id.
        assert {line.get("correlation_id") for line in lines} == {correlation_id}, logical

    outbox = cloud.client("dynamodb").scan(TableName=cloud.table_name("Outbox"))["Items"]
    events = sorted(
        (parse_event(item["envelope"]["S"]) for item in outbox if item["subject"]["S"] == order_id),
        key=lambda event: event.time,
    )
    assert [e.type for e in events if e.type != "InventoryUpdated"] == [
        "OrderCreated",
        "InventoryReserved",
        "PaymentReceived",
        "OrderConfirmed",
        "OrderShipped",
    ]
    assert {event.correlation_id for event in events} == {correlation_id}
    seen: set[str] = set()
    created = events[0]
    for event in events:
        # Each event was caused by an earlier one (or by the saga's payment command for it).
        assert event.causation_id is None or event.causation_id in seen or event.type == "PaymentReceived", event.type
        seen.add(event.id)
    assert created.causation_id is None
    assert all(e.causation_id is not None for e in events[1:])


def _emf(cloud: LocalCloud, logical: str) -> list[dict[str, Any]]:
    return [line for line in _lines(cloud, cloud.function_name(logical)) if "_aws" in line]


def _metric_names(documents: list[dict[str, Any]]) -> set[str]:
    return {
        metric["Name"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_functions_emit_the_business_metrics_with_low_cardinality_dimensions(cloud: LocalCloud) -> None:
    wait_terminal(cloud, place(cloud, "tok_ok"), place(cloud, "tok_declined"))
    cloud.wait_until_idle()
    expected = {
        "OrdersApiFunction": {"OrdersCreated"},
        "BackboneRelay": {"EventsPublished"},
        "OrderHistoryConsumer": {"EventsProjected", "EventAge"},
        "FulfilmentOrderSteps": {"OrdersConfirmed", "OrdersCancelled", "SagaDuration"},
        "FulfilmentPaymentsConsumer": {"PaymentsPaid", "PaymentsDeclined", "EventAge"},
        "FulfilmentShippingConsumer": {"OrdersShipped"},
    }
    for logical, names in expected.items():
        documents = _emf(cloud, logical)
        assert names <= _metric_names(documents), (logical, _metric_names(documents))
        dimension_sets = {
            tuple(dims)
            for document in documents
            for d in document["_aws"]["CloudWatchMetrics"]
            for dims in d["Dimensions"]
        }
        # Only service, and a type or a reason: never an order id or anything unbounded.
        assert all(
            set(dims) <= {"service", "event_type", "reason", "to_state", "function_name"} for dims in dimension_sets
        )
    cancelled = [
        document
        for document in _emf(cloud, "FulfilmentOrderSteps")
        if "reason" in json.dumps(document["_aws"]["CloudWatchMetrics"])
    ]
    assert {document["reason"] for document in cancelled} >= {"PAYMENT_DECLINED"}
    service = {document["service"] for document in _emf(cloud, "BackboneRelay")}
    assert service == {"outbox-relay"}
