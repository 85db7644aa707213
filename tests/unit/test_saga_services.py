"""The saga's use cases on the in-memory unit of work: what is stored and what is announced,
including when another writer changes what a step read before it commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderflow.domain.errors import InvalidTransition, OutOfStock
from orderflow.domain.inventory import ReservationStatus, StockLevel
from orderflow.domain.orders import Order
from orderflow.events.models import OrderLine, StockLine
from orderflow.events.types import CancellationReason, Currency, OrderStatus
from orderflow.services.fulfilment import FulfilmentService
from orderflow.services.inventory import InventoryService
from orderflow.services.projection import Applied, apply_event
from orderflow.services.shipping import ship
from tests.support.factories import order_confirmed, order_created
from tests.support.fakes import FakeUnitOfWork

CAUSES = {"correlation_id": "corr-1", "causation_id": "evt-1"}
LINES = [StockLine(sku="KB-001", quantity=2)]


@pytest.fixture
def uow() -> FakeUnitOfWork:
    store = FakeUnitOfWork()
    store.levels["KB-001"] = StockLevel(sku="KB-001", available=3)
    store.orders_by_id["o-1"] = Order(
        order_id="o-1",
        customer_id="c-1",
        items=[OrderLine(sku="KB-001", name="Keyboard", quantity=2, unit_price=Decimal("89.00"))],
        total=Decimal("178.00"),
        currency=Currency.EUR,
        status=OrderStatus.PENDING,
        version=1,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        correlation_id="corr-1",
    )
    return store


def _another_writer_takes(units: int) -> Callable[[FakeUnitOfWork], None]:
    def take(store: FakeUnitOfWork) -> None:
        level = store.levels["KB-001"]
        store.levels["KB-001"] = level.model_copy(
            update={"available": level.available - units, "reserved": level.reserved + units}
        )

    return take


def test_reserving_moves_stock_and_announces_it_once(uow: FakeUnitOfWork) -> None:
    service = InventoryService(uow)

    first = service.reserve("o-1", LINES, **CAUSES)
    again = service.reserve("o-1", LINES, **CAUSES)

    assert first == again
    assert uow.levels["KB-001"] == StockLevel(sku="KB-001", available=1, reserved=2)
    assert [event.type for event in uow.published] == ["InventoryReserved", "InventoryUpdated"]


def test_stock_taken_between_read_and_commit_is_decided_again_on_what_is_left(uow: FakeUnitOfWork) -> None:
    uow.before_commit.append(_another_writer_takes(1))

    InventoryService(uow).reserve("o-1", LINES, **CAUSES)

    assert uow.levels["KB-001"] == StockLevel(sku="KB-001", available=0, reserved=3)
    assert uow.commits == 1


def test_stock_taken_between_read_and_commit_can_make_it_out_of_stock(uow: FakeUnitOfWork) -> None:
    uow.before_commit.append(_another_writer_takes(2))

    with pytest.raises(OutOfStock):
        InventoryService(uow).reserve("o-1", LINES, **CAUSES)

    assert uow.reservations_by_order == {}
    assert uow.published == []


def test_confirming_sells_the_stock_and_confirms_the_order_together(uow: FakeUnitOfWork) -> None:
    InventoryService(uow).reserve("o-1", LINES, **CAUSES)

    confirmed = FulfilmentService(uow).confirm("o-1", **CAUSES)

    assert confirmed.status is OrderStatus.CONFIRMED
    assert uow.orders_by_id["o-1"].status is OrderStatus.CONFIRMED
    assert uow.reservations_by_order["o-1"].status is ReservationStatus.COMMITTED
    assert uow.levels["KB-001"] == StockLevel(sku="KB-001", available=1, sold=2)
    assert [event.type for event in uow.published][-2:] == ["OrderConfirmed", "InventoryUpdated"]


def test_an_order_cancelled_between_read_and_commit_is_not_confirmed_and_sells_nothing(uow: FakeUnitOfWork) -> None:
    InventoryService(uow).reserve("o-1", LINES, **CAUSES)
    service = FulfilmentService(uow)

    def cancel_meanwhile(store: FakeUnitOfWork) -> None:
        order = store.orders_by_id["o-1"]
        store.orders_by_id["o-1"] = order.model_copy(update={"status": OrderStatus.CANCELLED, "version": 2})

    uow.before_commit.append(cancel_meanwhile)

    with pytest.raises(InvalidTransition):
        service.confirm("o-1", **CAUSES)
    assert uow.reservations_by_order["o-1"].status is ReservationStatus.RESERVED
    assert uow.levels["KB-001"] == StockLevel(sku="KB-001", available=1, reserved=2)


def test_release_after_confirmation_puts_nothing_back(uow: FakeUnitOfWork) -> None:
    inventory = InventoryService(uow)
    inventory.reserve("o-1", LINES, **CAUSES)
    FulfilmentService(uow).confirm("o-1", **CAUSES)

    released = inventory.release("o-1", reason="late", **CAUSES)

    assert released is not None
    assert released.status is ReservationStatus.COMMITTED
    assert uow.levels["KB-001"] == StockLevel(sku="KB-001", available=1, sold=2)


def test_cancelling_twice_cancels_and_announces_once(uow: FakeUnitOfWork) -> None:
    service = FulfilmentService(uow)

    first = service.cancel("o-1", reason=CancellationReason.OUT_OF_STOCK, detail="", **CAUSES)
    again = service.cancel("o-1", reason=CancellationReason.OUT_OF_STOCK, detail="", **CAUSES)

    assert first == again
    assert [event.type for event in uow.published] == ["OrderCancelled"]


def test_an_order_is_shipped_once() -> None:
    uow = FakeUnitOfWork()

    first = ship(uow, order_confirmed("o-1"))
    again = ship(uow, order_confirmed("o-1"))

    assert first is not None
    assert again is None
    assert list(uow.shipments_by_order) == ["o-1"]
    assert [event.type for event in uow.published] == ["OrderShipped"]


def test_a_projection_racing_another_decides_again_on_the_newer_summary() -> None:
    uow = FakeUnitOfWork()
    apply_event(uow, order_created("o-1"))
    confirmed = order_confirmed("o-1")

    def shipped_meanwhile(store: FakeUnitOfWork) -> None:
        view = store.summaries["o-1"]
        store.summaries["o-1"] = view.model_copy(update={"status": OrderStatus.SHIPPED, "last_sequence": 3})

    uow.before_commit.append(shipped_meanwhile)

    assert apply_event(uow, confirmed) is Applied.STALE
    assert uow.summaries["o-1"].status is OrderStatus.SHIPPED
