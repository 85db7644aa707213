from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderflow.contracts import EventSource, EventType
from orderflow.domain.errors import InvalidOrder
from orderflow.domain.orders import PlaceOrder, place_order
from orderflow.events.types import OrderStatus
from tests.support.factories import order_request, product

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CATALOGUE = {p.sku: p for p in (product("KB-001", price="89.00"), product("MS-002", price="24.50"))}


def _place(**overrides: object) -> tuple[object, object]:
    return place_order(
        PlaceOrder.model_validate(order_request(**overrides)),
        CATALOGUE,
        order_id="order-1",
        correlation_id="corr-1",
        now=NOW,
    )


def test_prices_come_from_the_catalogue_and_the_total_is_exact() -> None:
    order, event = place_order(
        PlaceOrder.model_validate(order_request()), CATALOGUE, order_id="order-1", correlation_id="corr-1", now=NOW
    )

    assert [(line.sku, line.unit_price, line.quantity) for line in order.items] == [
        ("KB-001", Decimal("89.00"), 2),
        ("MS-002", Decimal("24.50"), 1),
    ]
    assert order.total == Decimal("202.50")
    assert order.status is OrderStatus.PENDING
    assert event.type is EventType.ORDER_CREATED
    assert (event.subject, event.sequence, event.source) == ("order-1", 1, EventSource.ORDERS)
    assert event.data.total == order.total
    assert event.data.payment_token == "tok_ok"


def test_unknown_sku_names_the_line() -> None:
    with pytest.raises(InvalidOrder) as raised:
        _place(items=[{"sku": "KB-001", "quantity": 1}, {"sku": "NOPE-1", "quantity": 1}])

    assert raised.value.field == "items[1].sku"
    assert "unknown sku 'NOPE-1'" in raised.value.problem


def test_a_sku_given_twice_is_rejected() -> None:
    with pytest.raises(InvalidOrder, match=r"items\[1\]\.sku: duplicate sku"):
        _place(items=[{"sku": "KB-001", "quantity": 1}, {"sku": "KB-001", "quantity": 2}])


def test_a_product_priced_in_another_currency_is_rejected() -> None:
    with pytest.raises(InvalidOrder, match="priced in EUR, the order is in USD"):
        _place(currency="USD")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"sku": "KB-001", "quantity": 0}]}, "quantity"),
        ({"currency": "XYZ"}, "currency"),
        ({"client_price": "1.00"}, "client_price"),
        ({"customer_id": ""}, "customer_id"),
    ],
)
def test_the_command_rejects_malformed_requests(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PlaceOrder.model_validate(order_request(**overrides))
