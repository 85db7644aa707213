"""The limits arithmetic of `orderflow.limits`, checked against what the use cases really stage
and against the sizes of the largest order's records and events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from localcloud.capacity import item_size
from orderflow.adapters.dynamodb import to_item
from orderflow.adapters.outbox import outbox_record
from orderflow.domain.inventory import StockLevel
from orderflow.domain.orders import PlaceOrder, Product, place_order
from orderflow.domain.saga import SagaContext
from orderflow.events.models import StockLine
from orderflow.events.types import MAX_MONEY, CancellationReason, Currency
from orderflow.limits import (
    CONFIRM_FIXED_ITEMS,
    ITEM_MAX_BYTES,
    ITEMS_PER_LINE,
    MAX_LINES,
    MESSAGE_MAX_BYTES,
    STATE_MAX_BYTES,
    TRANSACTION_MAX_BYTES,
    TRANSACTION_MAX_ITEMS,
)
from orderflow.services.fulfilment import FulfilmentService
from orderflow.services.inventory import InventoryService
from tests.support.fakes import FakeUnitOfWork

CAUSES = {"correlation_id": "c" * 128, "causation_id": "e" * 128}
# The highest unit price at which the largest order's total is still an amount.
PRICE = (MAX_MONEY / (MAX_LINES * 1000)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")


def _sku(index: int) -> str:
    return f"S{index:02d}" + "X" * 61  # the longest sku the model takes (64)


def _largest_order(lines: int) -> tuple[PlaceOrder, dict[str, Product]]:
    catalogue = {
        _sku(n): Product(sku=_sku(n), name="漢" * 200, price=PRICE, currency=Currency.EUR, available=10_000)
        for n in range(lines)
    }
    command = PlaceOrder(
        customer_id="c" * 128,
        items=[{"sku": sku, "quantity": 1000} for sku in catalogue],  # type: ignore[misc]
        currency=Currency.EUR,
        payment_token="t" * 128,
    )
    return command, catalogue


def _saga(lines: int) -> FakeUnitOfWork:
    """Place, reserve and confirm an order of `lines` lines on the in-memory unit of work; and
    reserve and release a second one."""
    command, catalogue = _largest_order(lines)
    uow = FakeUnitOfWork()
    uow.levels.update({sku: StockLevel(sku=sku, available=10_000) for sku in catalogue})
    stock = [StockLine(sku=sku, quantity=1000) for sku in catalogue]
    for order_id in ("o-confirmed", "o-released"):
        order, created = place_order(command, catalogue, order_id=order_id, correlation_id="c", now=datetime.now(UTC))
        with uow:
            uow.orders.add(order)
            uow.outbox.add(created)
            uow.commit()
        InventoryService(uow).reserve(order_id, stock, **CAUSES)
    FulfilmentService(uow).confirm("o-confirmed", **CAUSES)
    InventoryService(uow).release("o-released", reason="r", **CAUSES)
    return uow


@pytest.mark.parametrize("lines", [1, 7, MAX_LINES])
def test_the_largest_transaction_is_the_confirmation_with_three_plus_two_items_a_line(lines: int) -> None:
    uow = _saga(lines)

    # place, reserve (x2), confirm, release: reserve and release stage one item less a line.
    assert uow.transaction_sizes == [2, 2 + 2 * lines, 2, 2 + 2 * lines, 3 + 2 * lines, 2 + 2 * lines]
    assert max(uow.transaction_sizes) == CONFIRM_FIXED_ITEMS + ITEMS_PER_LINE * lines


def test_max_lines_is_the_most_whose_confirmation_fits_a_transaction() -> None:
    assert CONFIRM_FIXED_ITEMS + ITEMS_PER_LINE * MAX_LINES <= TRANSACTION_MAX_ITEMS
    assert CONFIRM_FIXED_ITEMS + ITEMS_PER_LINE * (MAX_LINES + 1) > TRANSACTION_MAX_ITEMS
    assert MAX_LINES == 48


def test_the_api_takes_max_lines_and_refuses_one_more() -> None:
    command, _ = _largest_order(MAX_LINES)
    assert len(command.items) == MAX_LINES

    with pytest.raises(ValidationError, match="at most 48 items"):
        _largest_order(MAX_LINES + 1)


def test_the_largest_orders_records_and_events_fit_every_limit() -> None:
    """The largest order: 48 lines, longest skus, 200-character names of 3-byte characters,
    1000 units each at the highest price."""
    command, catalogue = _largest_order(MAX_LINES)
    order, created = place_order(command, catalogue, order_id="o" * 36, correlation_id="c" * 128, now=datetime.now(UTC))
    order_item = item_size(to_item(order.model_dump(mode="json")))
    event_record = item_size(to_item(outbox_record(created, retention=timedelta(days=7))))

    assert order_item <= ITEM_MAX_BYTES
    assert event_record <= ITEM_MAX_BYTES
    # The confirmation writes the order and three events; the stock items are small.
    assert order_item + 3 * event_record + MAX_LINES * 2 * 1024 <= TRANSACTION_MAX_BYTES
    assert len(created.to_json().encode()) <= MESSAGE_MAX_BYTES  # SNS, SQS, one EventBridge entry

    # The saga's state: its input, plus the reservation, the payment and an error it carries.
    state = json.loads(SagaContext.from_event(created, payment_deadline=timedelta(minutes=10)).model_dump_json())
    state["reservation"] = {"order_id": order.order_id, "items": [line.model_dump(mode="json") for line in order.items]}
    state["payment"] = {"payment_id": "p" * 64, "amount": str(order.total), "currency": "EUR"}
    state["error"] = {"Error": "E" * 128, "Cause": "x" * 32_768}  # a cause is cut at 32 KiB
    state["reason"] = str(CancellationReason.PAYMENT_UNAVAILABLE)
    assert len(json.dumps(state).encode()) <= STATE_MAX_BYTES


def test_an_order_whose_total_is_more_than_an_amount_can_be_is_refused_naming_it() -> None:
    from orderflow.domain.errors import InvalidOrder

    command, catalogue = _largest_order(MAX_LINES)
    dearer = {sku: product.model_copy(update={"price": PRICE + Decimal("1.00")}) for sku, product in catalogue.items()}

    with pytest.raises(InvalidOrder, match="more than an order can be"):
        place_order(command, dearer, order_id="o", correlation_id="c", now=datetime.now(UTC))
