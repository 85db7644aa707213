"""The order lifecycle through a deployed stage's public surface: its API (with the key its stack
names), its topic and its state machine, each found through the stacks' outputs. What the tests
create beyond orders (a queue tapping the topic) is deleted when they end."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.deployed.stage import Stage
from tests.support.aws import subscribed_queue

MAX_QUANTITY = 1000  # of one line (orderflow.events.types.Quantity)


def _product(stage: Stage, *, fewest: bool = False) -> dict[str, Any]:
    """The product with the most units available (or the fewest that has any)."""
    answer = stage.api("GET", "/products")
    assert answer.status == 200, answer.body
    stocked = [product for product in answer.body if product["available"] > 0]
    return dict((min if fewest else max)(stocked, key=lambda product: product["available"]))


def _order(product: dict[str, Any], token: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "customer_id": "e2e-suite",
        "items": [{"sku": product["sku"], "quantity": quantity}],
        "currency": product["currency"],
        "payment_token": token,
    }


def _place(stage: Stage, body: dict[str, Any]) -> str:
    answer = stage.api("POST", "/orders", body, {"Idempotency-Key": f"e2e-{uuid.uuid4()}"})
    assert answer.status == 202, answer.body
    return str(answer.body["order_id"])


@pytest.fixture
def tap(stage: Stage) -> Iterator[str]:
    """A FIFO queue subscribed to the order-events topic for the test, deleted after it."""
    sqs, sns = stage.client("sqs"), stage.client("sns")
    name = f"orderflow-{stage.name}-e2e-tap-{uuid.uuid4().hex[:12]}.fifo"
    url, subscription = subscribed_queue(sqs, sns, stage.outputs["OrderEventsTopic"], name, raw=True)
    try:
        yield url
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)


def _events_of(stage: Stage, queue_url: str, order_id: str, until: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + stage.timeout
    while time.monotonic() < deadline and until not in seen:
        for message in (
            stage.client("sqs")
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
            .get("Messages", [])
        ):
            event = json.loads(message["Body"])
            if event["subject"] == order_id:
                seen.append(event["type"])
            stage.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_the_stage_is_found_through_its_outputs(stage: Stage) -> None:
    assert {
        "ApiUrl",
        "ApiKeyId",
        "StateMachine",
        "OrderEventsTopic",
        "EventBus",
        "CatalogueTable",
        "AlertTopic",
    } <= set(stage.outputs)
    assert _product(stage)["available"] > 0


def test_a_good_card_ships_through_the_saga_and_the_topic(stage: Stage, tap: str) -> None:
    order_id = _place(stage, _order(_product(stage), "tok_ok"))

    order = stage.settled(order_id)

    assert order["status"] == "SHIPPED", order
    timeline = [entry["type"] for entry in order["timeline"]]
    assert timeline[0] == "OrderCreated"
    assert timeline[-1] == "OrderShipped"
    assert {"InventoryReserved", "PaymentReceived", "OrderConfirmed"} <= set(timeline)
    # One saga execution, named after the order, succeeded.
    machine = stage.outputs["StateMachine"]
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:{order_id}"
    assert stage.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    # Every event reached the topic, in order (one message group per order).
    events = _events_of(stage, tap, order_id, until="OrderShipped")
    assert events[0] == "OrderCreated"
    assert events[-1] == "OrderShipped"
    assert events.index("PaymentReceived") < events.index("OrderConfirmed")


def test_a_declined_card_cancels_and_gives_the_stock_back(stage: Stage) -> None:
    product = _product(stage)

    order = stage.settled(_place(stage, _order(product, "tok_declined")))

    assert (order["status"], order["reason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    after = next(p for p in stage.api("GET", "/products").body if p["sku"] == product["sku"])
    assert after["available"] == product["available"]


def test_more_than_the_stock_cancels_out_of_stock(stage: Stage) -> None:
    product = _product(stage, fewest=True)
    quantity = product["available"] + 1
    if quantity > MAX_QUANTITY:  # no order line can ask for more than this stock
        pytest.skip(f"every product has more than {MAX_QUANTITY - 1} available")

    order = stage.settled(_place(stage, _order(product, "tok_ok", quantity)))

    assert (order["status"], order["reason"]) == ("CANCELLED", "OUT_OF_STOCK")


def test_bad_input_and_a_missing_key_are_refused_with_the_field(stage: Stage) -> None:
    product = _product(stage)
    body = _order(product, "tok_ok")
    body["items"][0]["quantity"] = 0

    invalid = stage.api("POST", "/orders", body)
    keyless = stage.api("GET", "/products", headers={"x-api-key": ""})

    assert invalid.status == 422
    assert invalid.body["errors"][0]["field"] == "items[0].quantity"
    assert keyless.status == 403
    assert keyless.body["errors"] == [{"field": "x-api-key", "problem": "missing, or not a key of this API"}]


def test_a_repeated_request_with_one_key_is_one_order(stage: Stage) -> None:
    body, key = _order(_product(stage), "tok_ok"), {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}

    first, again = stage.api("POST", "/orders", body, key), stage.api("POST", "/orders", body, key)

    assert (first.status, again.status) == (202, 202)
    assert first.body["order_id"] == again.body["order_id"]
    stage.settled(first.body["order_id"])
