"""The orders API handler on moto: what it stores, what it answers, and what it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from orderflow.events import parse_event
from tests.conftest import LambdaContext
from tests.integration.conftest import body
from tests.support.aws import Resources, item_count, stream_records
from tests.support.factories import api_request, order_request


@pytest.fixture
def api(seeded: Resources, handler_module: Callable[[str], ModuleType]) -> Callable[..., dict[str, Any]]:
    module = handler_module("orders_api")

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return module.handler(api_request(method, path, **kwargs), LambdaContext(function_name="orders-api"))

    return call


def _outbox_events(dynamodb: Any, resources: Resources) -> list[Any]:
    items = dynamodb.scan(TableName=resources.outbox_table)["Items"]
    return [parse_event(item["envelope"]["S"]) for item in items]


def test_products_list_the_catalogue(api: Callable[..., dict[str, Any]]) -> None:
    response = api("GET", "/products")

    assert response["statusCode"] == 200
    products = body(response)
    assert len(products) == 8
    assert products[0] == {"sku": "CB-005", "name": "USB-C cable", "price": "9.90", "currency": "EUR", "available": 500}


def test_post_stores_the_order_and_exactly_one_outbox_event(
    api: Callable[..., dict[str, Any]], dynamodb: Any, seeded: Resources
) -> None:
    response = api("POST", "/orders", body=order_request(), headers={"X-Correlation-Id": "checkout-42"})

    assert response["statusCode"] == 202
    accepted = body(response)
    assert accepted["status"] == "PENDING"
    assert accepted["total"] == "202.50"  # 2 x 89.00 + 24.50, from the catalogue
    assert response["multiValueHeaders"]["Location"] == [f"/prod/orders/{accepted['order_id']}"]
    assert response["multiValueHeaders"]["X-Correlation-Id"] == ["checkout-42"]
    stored = dynamodb.get_item(TableName=seeded.orders_table, Key={"order_id": {"S": accepted["order_id"]}})["Item"]
    assert stored["status"]["S"] == "PENDING"
    (event,) = _outbox_events(dynamodb, seeded)
    assert (event.type, event.subject, event.correlation_id, event.sequence) == (
        "OrderCreated",
        accepted["order_id"],
        "checkout-42",
        1,
    )


def test_the_outbox_write_reaches_the_stream(api: Callable[..., dict[str, Any]], seeded: Resources) -> None:
    accepted = body(api("POST", "/orders", body=order_request()))

    (record,) = stream_records(boto3, seeded.outbox_stream_arn)
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["NewImage"]["subject"]["S"] == accepted["order_id"]


def test_same_idempotency_key_and_body_yield_one_order(
    api: Callable[..., dict[str, Any]], seeded: Resources, dynamodb: Any
) -> None:
    first = api("POST", "/orders", body=order_request(), headers={"Idempotency-Key": "key-1"})
    second = api("POST", "/orders", body=order_request(), headers={"Idempotency-Key": "key-1"})

    assert first["statusCode"] == second["statusCode"] == 202
    assert body(first) == body(second)
    assert item_count(boto3, seeded.orders_table) == 1
    assert len(_outbox_events(dynamodb, seeded)) == 1


def test_same_idempotency_key_with_another_body_is_refused(
    api: Callable[..., dict[str, Any]], seeded: Resources
) -> None:
    api("POST", "/orders", body=order_request(), headers={"Idempotency-Key": "key-2"})

    response = api("POST", "/orders", body=order_request(currency="USD"), headers={"Idempotency-Key": "key-2"})

    assert response["statusCode"] == 422
    assert body(response)["errors"] == [{"field": "Idempotency-Key", "problem": "already used for a different request"}]
    assert item_count(boto3, seeded.orders_table) == 1


def test_requests_without_a_key_are_separate_orders(api: Callable[..., dict[str, Any]], seeded: Resources) -> None:
    api("POST", "/orders", body=order_request())
    api("POST", "/orders", body=order_request())

    assert item_count(boto3, seeded.orders_table) == 2


BAD_REQUESTS = [
    pytest.param("not json", 422, "body", id="non-json"),
    pytest.param("[1, 2]", 422, "body", id="json-array"),
    pytest.param(
        json.dumps({"items": [{"sku": "KB-001", "quantity": 1}], "currency": "EUR"}),
        422,
        "customer_id",
        id="missing-field",
    ),
    pytest.param(json.dumps(order_request(items="KB-001")), 422, "items", id="wrong-type"),
    pytest.param(
        json.dumps(order_request(items=[{"sku": "KB-001", "quantity": "two"}])),
        422,
        "items[0].quantity",
        id="quantity-not-int",
    ),
    pytest.param(
        json.dumps(order_request(items=[{"sku": "KB-001", "quantity": 0}])),
        422,
        "items[0].quantity",
        id="quantity-zero",
    ),
    pytest.param(json.dumps(order_request(items=[])), 422, "items", id="no-items"),
    pytest.param(json.dumps(order_request(unit_price="0.01")), 422, "unit_price", id="extra-field"),
    pytest.param(json.dumps(order_request(currency="BTC")), 422, "currency", id="unknown-currency"),
    pytest.param(
        json.dumps(order_request(items=[{"sku": "NOPE-404", "quantity": 1}])), 422, "items[0].sku", id="unknown-sku"
    ),
    pytest.param(json.dumps(order_request(currency="USD")), 422, "items[0].sku", id="currency-mismatch"),
    pytest.param(json.dumps(order_request(customer_id="x" * 100_000)), 413, "body", id="huge-body"),
]


@pytest.mark.parametrize(("raw", "status", "field"), BAD_REQUESTS)
def test_bad_input_answers_4xx_naming_the_field_and_writes_nothing(
    api: Callable[..., dict[str, Any]], seeded: Resources, raw: str, status: int, field: str
) -> None:
    response = api("POST", "/orders", body=raw, headers={"Idempotency-Key": "bad-1", "X-Correlation-Id": "bad-input"})

    assert response["statusCode"] == status
    if status != 413:  # refused before the resolver runs
        assert response["multiValueHeaders"]["X-Correlation-Id"] == ["bad-input"]
    problem = body(response)
    assert field in [error["field"] for error in problem["errors"]], problem
    session = boto3
    assert item_count(session, seeded.orders_table) == 0
    assert item_count(session, seeded.outbox_table) == 0
    assert stream_records(session, seeded.outbox_stream_arn) == []
    assert item_count(session, seeded.idempotency_table) == 0


def test_a_rejected_request_can_be_retried_with_the_same_key(
    api: Callable[..., dict[str, Any]], seeded: Resources
) -> None:
    rejected = api(
        "POST", "/orders", body=order_request(items=[{"sku": "NOPE", "quantity": 1}]), headers={"Idempotency-Key": "k"}
    )
    accepted = api("POST", "/orders", body=order_request(), headers={"Idempotency-Key": "k"})

    assert (rejected["statusCode"], accepted["statusCode"]) == (422, 202)


def test_unknown_order_is_404(api: Callable[..., dict[str, Any]]) -> None:
    response = api("GET", "/orders/missing", path_parameters={"order_id": "missing"})

    assert response["statusCode"] == 404
    assert body(response) == {
        "message": "Order missing not found",
        "errors": [{"field": "order_id", "problem": "no such order"}],
    }


def test_a_new_order_is_readable_at_its_location_before_projection(api: Callable[..., dict[str, Any]]) -> None:
    accepted = body(api("POST", "/orders", body=order_request()))
    order_id = accepted["order_id"]

    response = api("GET", f"/orders/{order_id}", path_parameters={"order_id": order_id})

    assert response["statusCode"] == 200
    details = body(response)
    assert (details["status"], details["total"], details["currency"], details["timeline"]) == (
        "PENDING",
        "202.50",
        "EUR",
        [],
    )


def test_contention_that_outlasts_the_retries_is_a_503_to_retry_and_stores_nothing(
    api: Callable[..., dict[str, Any]], seeded: Resources
) -> None:
    from orderflow.adapters.clients import shared_client
    from tests.support.contention import Conflicts

    before = item_count(boto3, seeded.orders_table)
    with Conflicts(shared_client("dynamodb"), every_attempt=True) as conflicts:
        response = api("POST", "/orders", body=order_request())

    assert response["statusCode"] == 503
    assert response["multiValueHeaders"]["Retry-After"] == ["1"]
    assert body(response)["message"] == "Busy"
    assert sum(conflicts.tables.values()) == 5  # the unit of work's attempts
    assert item_count(boto3, seeded.orders_table) == before
