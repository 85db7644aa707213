"""HTTP in, read model out: the synthesized app on the local cloud."""

from __future__ import annotations

import time
from typing import Any

from localcloud.cloud import LocalCloud
from tests.support.factories import order_request


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _orders_stored(cloud: LocalCloud) -> int:
    table = next(
        str(cloud.deployment.value(lid))
        for lid in cloud.deployment.of_type("AWS::DynamoDB::Table")
        if lid.startswith("TablesOrders")
    )
    return int(cloud.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"])


def test_an_order_placed_over_http_goes_all_the_way_to_shipped(api: Any) -> None:
    placed = api("POST", "/orders", order_request(), {"X-Correlation-Id": "e2e-flow-1"})

    assert placed.status == 202
    order_id = placed.body["order_id"]
    assert placed.headers["Location"] == f"/prod/orders/{order_id}"
    view = wait_for(lambda: (answer := api("GET", f"/orders/{order_id}").body)["status"] == "SHIPPED" and answer)
    assert view["total"] == "202.50"
    timeline = [entry["type"] for entry in view["timeline"]]
    assert timeline[0] == "OrderCreated"
    assert timeline[-1] == "OrderShipped"


def test_the_stage_prefix_works_like_the_deployed_url(api: Any) -> None:
    assert api("GET", "/prod/products").status == 200


def test_a_repeated_request_with_one_key_is_one_order(api: Any, cloud: LocalCloud) -> None:
    before = _orders_stored(cloud)
    key = {"Idempotency-Key": f"e2e-{time.time_ns()}"}

    first, again = api("POST", "/orders", order_request(), key), api("POST", "/orders", order_request(), key)

    assert (first.status, again.status) == (202, 202)
    assert first.body["order_id"] == again.body["order_id"]
    assert _orders_stored(cloud) == before + 1


def test_bad_input_is_refused_and_writes_nothing(api: Any, cloud: LocalCloud) -> None:
    before = _orders_stored(cloud)

    answer = api("POST", "/orders", order_request(items=[{"sku": "KB-001", "quantity": 0}]))

    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "items[0].quantity"
    assert _orders_stored(cloud) == before


def test_what_only_the_function_can_check_names_the_field(api: Any, cloud: LocalCloud) -> None:
    before = _orders_stored(cloud)

    answer = api("POST", "/orders", order_request(items=[{"sku": "NO-SUCH-SKU", "quantity": 1}]))

    assert answer.status == 422
    assert answer.body["errors"] == [{"field": "items[0].sku", "problem": "unknown sku 'NO-SUCH-SKU'"}]
    assert _orders_stored(cloud) == before


def test_an_unknown_route_answers_like_api_gateway(api: Any) -> None:
    answer = api("DELETE", "/orders")

    assert (answer.status, answer.body) == (
        404,
        {"message": "Not found", "errors": [{"field": "path", "problem": "no such route or method"}]},
    )
    assert answer.headers["X-Correlation-Id"]
