"""Builders for test data: products, order events, and Lambda event payloads (API Gateway REST
proxy, SQS FIFO, DynamoDB stream) based on the sample JSON files under `tests/events/`."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from orderflow.contracts import EventSource
from orderflow.domain.orders import Product
from orderflow.events import Envelope
from orderflow.events.models import (
    OrderCancelled,
    OrderCancelledData,
    OrderConfirmed,
    OrderConfirmedData,
    OrderCreated,
    OrderCreatedData,
    OrderLine,
    OrderShipped,
    OrderShippedData,
    PaymentReceived,
    PaymentReceivedData,
)
from orderflow.events.types import CancellationReason, Currency

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def product(sku: str = "KB-001", *, price: str = "10.00", currency: str = "EUR", available: int = 10) -> Product:
    return Product(
        sku=sku, name=f"Product {sku}", price=Decimal(price), currency=Currency(currency), available=available
    )


def order_request(**overrides: Any) -> dict[str, Any]:
    body = sample("create_order.json")
    body.update(overrides)
    return body


def _at(sequence: int) -> datetime:
    return T0 + timedelta(seconds=sequence)


E = TypeVar("E", bound=Envelope[Any])


def _event(model: type[E], order_id: str, sequence: int, source: EventSource, data: Any, *, offset_ms: int = 0) -> E:
    """An event of `model` for `order_id`, timed by its sequence so timelines sort predictably."""
    time = _at(sequence) + timedelta(milliseconds=offset_ms)
    return model.new(source=source, subject=order_id, correlation_id="corr-1", sequence=sequence, time=time, data=data)


def order_created(order_id: str = "order-1", *, sequence: int = 1, customer_id: str = "customer-1") -> OrderCreated:
    line = OrderLine(sku="KB-001", name="Mechanical keyboard", quantity=2, unit_price=Decimal("89.00"))
    data = OrderCreatedData(
        customer_id=customer_id, items=[line], total=Decimal("178.00"), currency=Currency.EUR, payment_token="tok_ok"
    )
    return _event(OrderCreated, order_id, sequence, EventSource.ORDERS, data)


def order_confirmed(order_id: str = "order-1", *, sequence: int = 2) -> OrderConfirmed:
    data = OrderConfirmedData(customer_id="customer-1", total=Decimal("178.00"), currency=Currency.EUR)
    return _event(OrderConfirmed, order_id, sequence, EventSource.SAGA, data)


def order_cancelled(
    order_id: str = "order-1", *, sequence: int = 2, reason: CancellationReason = CancellationReason.OUT_OF_STOCK
) -> OrderCancelled:
    data = OrderCancelledData(customer_id="customer-1", reason=reason)
    return _event(OrderCancelled, order_id, sequence, EventSource.SAGA, data)


def order_shipped(order_id: str = "order-1", *, sequence: int = 3) -> OrderShipped:
    data = OrderShippedData(customer_id="customer-1", shipment_id="ship-1", carrier="DHL")
    return _event(OrderShipped, order_id, sequence, EventSource.SHIPPING, data)


def payment_received(order_id: str = "order-1", *, sequence: int = 1) -> PaymentReceived:
    data = PaymentReceivedData(payment_id="pay-1", amount=Decimal("178.00"), currency=Currency.EUR)
    return _event(PaymentReceived, order_id, sequence, EventSource.PAYMENTS, data, offset_ms=500)


def api_request(
    method: str,
    path: str,
    *,
    body: str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as API Gateway sends it to the function."""
    event = copy.deepcopy(sample("apigw_rest_request.json"))
    event["httpMethod"] = method
    event["path"] = path
    event["resource"] = path if not path_parameters else path.rsplit("/", 1)[0] + "/{order_id}"
    event["body"] = json.dumps(body) if isinstance(body, dict) else body
    event["headers"] = {**event["headers"], **(headers or {})}
    event["pathParameters"] = path_parameters
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["requestContext"]["resourcePath"] = event["resource"]
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS event source batch from messages received with `receive_message` (all attributes)."""
    template = sample("sqs_fifo_record.json")
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        record["messageId"] = message["MessageId"]
        record["receiptHandle"] = message["ReceiptHandle"]
        record["body"] = message["Body"]
        record["md5OfBody"] = message["MD5OfBody"]
        record["attributes"].update(message.get("Attributes", {}))
        records.append(record)
    return {"Records": records}


def sqs_body_event(bodies: list[tuple[str, str]]) -> dict[str, Any]:
    """An SQS FIFO batch built directly from (group id, body) pairs, in order."""
    template = sample("sqs_fifo_record.json")
    records = []
    for index, (group, body) in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{index}"
        record["body"] = body
        record["attributes"]["MessageGroupId"] = group
        record["attributes"]["SequenceNumber"] = str(index + 1)
        records.append(record)
    return {"Records": records}


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A DynamoDB stream event from records returned by `get_records`."""
    template = sample("dynamodb_stream_insert.json")
    out = []
    for record in records:
        entry = copy.deepcopy(template)
        entry.update({key: record[key] for key in ("eventID", "eventName") if key in record})
        entry["dynamodb"] = {
            key: (int(value.timestamp()) if isinstance(value, datetime) else value)
            for key, value in record["dynamodb"].items()
        }
        out.append(entry)
    return {"Records": out}
