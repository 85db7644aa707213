"""Hard input never reaches a 5xx: generated bodies, headers and paths thrown at the orders API
handler on moto. Every answer is a 2xx or a 4xx with a JSON problem body, and a refused request
stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LambdaContext
from tests.support.aws import Resources, item_count
from tests.support.factories import api_request, order_request

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = ("customer_id", "items", "currency", "payment_token")


@st.composite
def order_bodies(draw: st.DrawFn) -> str:
    """Bodies near and far from a valid order: any JSON, any text, deep nesting, and a valid
    order with one field (or one line's field) replaced by anything."""
    kind = draw(st.sampled_from(["json", "text", "deep", "field", "line"]))
    if kind == "json":
        return json.dumps(draw(JSON))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(min_value=10, max_value=6000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        return opener * depth + "1" + closer * depth
    order = order_request()
    if kind == "field":
        order[draw(st.sampled_from(FIELDS))] = draw(JSON)
    else:
        order["items"][0][draw(st.sampled_from(["sku", "quantity", "extra"]))] = draw(JSON)
    return json.dumps(order)


HEADER_VALUES = st.text(max_size=300)


@pytest.fixture
def orders_api(seeded: Resources, handler_module: Callable[[str], ModuleType]) -> ModuleType:
    return handler_module("orders_api")


def _check(response: dict[str, Any], orders_before: int, seeded: Resources) -> None:
    status = response["statusCode"]
    assert status < 500, response
    if status >= 400:
        problem = json.loads(response["body"])
        assert isinstance(problem.get("message"), str), response
        assert item_count(boto3, seeded.orders_table) == orders_before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=order_bodies(), idempotency_key=HEADER_VALUES, correlation_id=HEADER_VALUES)
def test_no_body_or_header_gets_a_5xx_or_stores_a_refused_order(
    orders_api: ModuleType, seeded: Resources, body: str, idempotency_key: str, correlation_id: str
) -> None:
    before = item_count(boto3, seeded.orders_table)
    headers = {"Idempotency-Key": idempotency_key, "X-Correlation-Id": correlation_id}

    response = orders_api.handler(api_request("POST", "/orders", body=body, headers=headers), LambdaContext())

    _check(response, before, seeded)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_id=st.text(max_size=300))
def test_no_order_id_gets_a_5xx(orders_api: ModuleType, seeded: Resources, order_id: str) -> None:
    before = item_count(boto3, seeded.orders_table)
    request = api_request("GET", f"/orders/{order_id}", path_parameters={"order_id": order_id})

    _check(orders_api.handler(request, LambdaContext()), before, seeded)
