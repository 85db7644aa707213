"""Consumer CPU per message: the history projector's handler over SQS FIFO batches, in this
process, against the floor (a bare loop parsing each body of the same batches) and a plain
peer (parse, then one conditional PutItem per message).

DynamoDB answers at once with an empty success (a botocore `before-send` hook): the SDK still
builds, signs and parses every request, but no backend's work is counted, neither moto's (which
would dominate) nor the network's. The projector then takes the same path for every message
(no view yet: read, then write the entry and the summary).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

REGION = "eu-west-1"
TABLE = "order-views"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:order-history.fifo"
BATCH = 10
TOKEN = "tok_ok"  # noqa: S105 - the simulated gateway's token for a successful charge


@dataclass(frozen=True)
class ConsumerCost:
    messages: int
    floor_us: float
    peer_us: float
    ours_us: float


def _records(orders: int, prefix: str) -> list[dict[str, Any]]:
    """Each order's five events of the shipped path, as the queue delivers them (in order)."""
    from orderflow.contracts import EventSource
    from orderflow.events import Envelope
    from orderflow.events.models import (
        InventoryReserved,
        InventoryReservedData,
        OrderConfirmed,
        OrderConfirmedData,
        OrderCreated,
        OrderCreatedData,
        OrderLine,
        OrderShipped,
        OrderShippedData,
        PaymentReceived,
        PaymentReceivedData,
        StockLine,
    )
    from orderflow.events.types import Currency

    records: list[dict[str, Any]] = []
    for number in range(orders):
        order_id, total = f"{prefix}-{number}", Decimal("49.00")
        common: dict[str, Any] = {"subject": order_id, "correlation_id": f"corr-{number}"}
        line = OrderLine(sku="MS-002", name="Wireless mouse", quantity=2, unit_price=Decimal("24.50"))
        events: list[Envelope[Any]] = [
            OrderCreated.new(
                source=EventSource.ORDERS,
                sequence=1,
                data=OrderCreatedData(
                    customer_id="c", items=[line], total=total, currency=Currency.EUR, payment_token=TOKEN
                ),
                **common,
            ),
            InventoryReserved.new(
                source=EventSource.INVENTORY,
                sequence=1,
                data=InventoryReservedData(items=[StockLine(sku="MS-002", quantity=2)]),
                **common,
            ),
            PaymentReceived.new(
                source=EventSource.PAYMENTS,
                sequence=1,
                data=PaymentReceivedData(payment_id=f"pay-{number}", amount=total, currency=Currency.EUR),
                **common,
            ),
            OrderConfirmed.new(
                source=EventSource.SAGA,
                sequence=2,
                data=OrderConfirmedData(customer_id="c", total=total, currency=Currency.EUR),
                **common,
            ),
            OrderShipped.new(
                source=EventSource.SHIPPING,
                sequence=3,
                data=OrderShippedData(customer_id="c", shipment_id=f"shp-{number}", carrier="c"),
                **common,
            ),
        ]
        for event in events:
            records.append(
                {
                    "messageId": event.id,
                    "receiptHandle": event.id,
                    "body": event.to_json(),
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
                        "MessageGroupId": order_id,
                        "MessageDeduplicationId": event.id,
                        "SequenceNumber": str(len(records) + 1),
                    },
                    "messageAttributes": {},
                    "md5OfBody": "-",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": QUEUE_ARN,
                    "awsRegion": REGION,
                }
            )
    return records


def _batches(records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for start in range(0, len(records), BATCH):
        yield {"Records": records[start : start + BATCH]}


@contextlib.contextmanager
def _logs_discarded() -> Iterator[None]:
    """The consumer's log lines go to /dev/null (written all the same: their CPU counts)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _cpu_us(consume: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    """CPU microseconds per message."""
    with _logs_discarded():
        started = time.process_time()
        for batch in _batches(records):
            consume(batch)
        return (time.process_time() - started) * 1_000_000 / len(records)


class _Context:
    function_name = "history-projector"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:history-projector"
    aws_request_id = "bench"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _empty_success(body: bytes) -> Callable[..., Any]:
    from botocore.awsrequest import AWSResponse

    def answer(request: Any, **_: Any) -> Any:
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"}, _Raw(body))

    return answer


def measure(orders: int = 100) -> ConsumerCost:
    from orderflow.adapters.clients import botocore_session, shared_client

    environment = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "ORDER_VIEWS_TABLE": TABLE,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_SERVICE_NAME": "history-projector",
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    # The functions' clients come from one shared session: DynamoDB answers there, for the peer too.
    hooks = [
        ("before-send.dynamodb", _empty_success(b"{}")),
        ("before-send.dynamodb.Query", _empty_success(b'{"Items": [], "Count": 0}')),
    ]
    for event, hook in hooks:
        botocore_session().register(event, hook)
    try:
        dynamodb = shared_client("dynamodb")
        floor = _cpu_us(lambda batch: [json.loads(r["body"]) for r in batch["Records"]], _records(orders, "floor"))

        def peer(batch: dict[str, Any]) -> None:
            for record in batch["Records"]:
                event = json.loads(record["body"])
                dynamodb.put_item(
                    TableName=TABLE,
                    Item={
                        "order_id": {"S": event["subject"]},
                        "sk": {"S": event["id"]},
                        "type": {"S": event["type"]},
                        "body": {"S": record["body"]},
                    },
                    ConditionExpression="attribute_not_exists(sk)",
                )

        peer_us = _cpu_us(peer, _records(orders, "peer"))
        sys.modules.pop("functions.history_projector.handler", None)
        projector = importlib.import_module("functions.history_projector.handler")
        _cpu_us(lambda batch: projector.handler(batch, _Context()), _records(2, "warm"))  # builds the validators
        ours = _cpu_us(lambda batch: projector.handler(batch, _Context()), _records(orders, "ours"))
    finally:
        for event, hook in hooks:
            botocore_session().unregister(event, hook)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return ConsumerCost(messages=orders * 5, floor_us=floor, peer_us=peer_us, ours_us=ours)
