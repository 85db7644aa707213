"""Contention is not failure: every transactional write path of an order, on moto, with the first
attempt of each transaction cancelled by a `TransactionConflict`. Each order still ends for its
real reason, and each write is stored once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from orderflow.adapters.catalogue import DynamoDbCatalogue
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.payment_gateway import SimulatedGateway
from orderflow.adapters.unit_of_work import DynamoDbUnitOfWork, StoreTables
from orderflow.domain.errors import OutOfStock, PaymentDeclined
from orderflow.domain.inventory import ReservationStatus
from orderflow.domain.orders import PlaceOrder
from orderflow.domain.payments import PaymentStatus
from orderflow.events import AnyEvent, parse_event
from orderflow.events.models import OrderConfirmed, ProcessPayment, ProcessPaymentData, StockLine
from orderflow.events.types import CancellationReason, Currency, OrderStatus
from orderflow.services.fulfilment import FulfilmentService
from orderflow.services.inventory import InventoryService
from orderflow.services.ordering import OrderingService
from orderflow.services.payments import PaymentService
from orderflow.services.projection import apply_event
from orderflow.services.shipping import ship
from tests.support.aws import REGION, Resources
from tests.support.contention import Conflicts

CAUSES = {"correlation_id": "corr-1", "causation_id": "evt-1"}


@dataclass
class Shop:
    uow: DynamoDbUnitOfWork
    ordering: OrderingService
    inventory: InventoryService
    fulfilment: FulfilmentService
    payments: PaymentService
    conflicts: Conflicts
    resources: Resources

    def place(self, token: str, quantity: int = 2) -> str:
        command = PlaceOrder.model_validate(
            {
                "customer_id": "c-1",
                "items": [{"sku": "KB-001", "quantity": quantity}],
                "currency": "EUR",
                "payment_token": token,
            }
        )
        return self.ordering.place(command, correlation_id="corr-1").order_id

    def pay(self, order_id: str, token: str) -> None:
        order = self.uow.orders.get(order_id)
        assert order is not None
        command = ProcessPayment.new(
            source="orderflow.saga",  # type: ignore[arg-type]
            subject=order_id,
            correlation_id="corr-1",
            sequence=1,
            data=ProcessPaymentData(amount=order.total, currency=Currency.EUR, payment_token=token, task_token="t"),
        )
        self.payments.process(command)

    def keyboards(self) -> dict[str, int]:
        client = boto3.client("dynamodb", region_name=REGION)
        item = from_item(
            client.get_item(TableName=self.resources.catalogue_table, Key={"sku": {"S": "KB-001"}})["Item"]
        )
        return {key: int(item.get(key, 0)) for key in ("available", "reserved", "sold")}


@pytest.fixture
def shop(seeded: Resources) -> Iterator[Shop]:
    client = boto3.client("dynamodb", region_name=REGION)
    uow = DynamoDbUnitOfWork(
        StoreTables(
            orders=seeded.orders_table,
            outbox=seeded.outbox_table,
            catalogue=seeded.catalogue_table,
            reservations=seeded.reservations_table,
            payments=seeded.payments_table,
            shipments=seeded.shipments_table,
            order_views=seeded.order_views_table,
        ),
        client=client,
    )
    catalogue = DynamoDbCatalogue(seeded.catalogue_table, client=client)
    with Conflicts(client) as conflicts:
        yield Shop(
            uow=uow,
            ordering=OrderingService(catalogue=catalogue, uow=uow),
            inventory=InventoryService(uow),
            fulfilment=FulfilmentService(uow),
            # The provider's store is its own: the conflicts are orderflow's.
            payments=PaymentService(
                uow, SimulatedGateway(seeded.ledger_table, client=boto3.client("dynamodb", region_name=REGION))
            ),
            conflicts=conflicts,
            resources=seeded,
        )


def _outbox(resources: Resources, order_id: str) -> list[AnyEvent]:
    """The order's events in the outbox, in the order they were raised."""
    client = boto3.client("dynamodb", region_name=REGION)
    records = [from_item(item) for item in client.scan(TableName=resources.outbox_table)["Items"]]
    events = [parse_event(record["envelope"]) for record in records if record["subject"] == order_id]
    return sorted(events, key=lambda event: event.time)


def _types(events: list[AnyEvent]) -> list[str]:
    return [str(event.type) for event in events if event.type != "InventoryUpdated"]


def test_an_order_whose_every_transaction_meets_a_conflict_still_ships(shop: Shop) -> None:
    order_id = shop.place("tok_ok")
    shop.inventory.reserve(order_id, [StockLine(sku="KB-001", quantity=2)], **CAUSES)
    shop.pay(order_id, "tok_ok")
    shop.fulfilment.confirm(order_id, **CAUSES)
    confirmed = next(e for e in _outbox(shop.resources, order_id) if isinstance(e, OrderConfirmed))
    assert ship(shop.uow, confirmed) is not None
    for event in _outbox(shop.resources, order_id):
        apply_event(shop.uow, event)

    assert _types(_outbox(shop.resources, order_id)) == [
        "OrderCreated",
        "InventoryReserved",
        "PaymentReceived",
        "OrderConfirmed",
        "OrderShipped",
    ]
    assert shop.keyboards() == {"available": 48, "reserved": 0, "sold": 2}
    payment = shop.uow.payments.get(order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.PAID
    view, _ = shop.uow.views.get(order_id)
    assert view is not None
    assert view.status is OrderStatus.SHIPPED
    r = shop.resources
    # Each transaction met a conflict first: place and confirm (orders), reserve, pay, ship,
    # and one projection per event.
    assert shop.conflicts.tables == {
        r.orders_table: 2,
        r.reservations_table: 1,
        r.payments_table: 1,
        r.shipments_table: 1,
        r.order_views_table: len(_outbox(shop.resources, order_id)),
    }


def test_a_declined_order_meeting_conflicts_is_cancelled_for_its_decline(shop: Shop) -> None:
    order_id = shop.place("tok_declined")
    shop.inventory.reserve(order_id, [StockLine(sku="KB-001", quantity=2)], **CAUSES)
    with pytest.raises(PaymentDeclined):
        shop.pay(order_id, "tok_declined")
    assert shop.payments.refund(order_id, **CAUSES) is not None  # declined: nothing to refund
    released = shop.inventory.release(order_id, reason="payment declined", **CAUSES)
    cancelled = shop.fulfilment.cancel(order_id, reason=CancellationReason.PAYMENT_DECLINED, detail="", **CAUSES)

    assert released is not None
    assert released.status is ReservationStatus.RELEASED
    assert (cancelled.status, cancelled.reason) == (OrderStatus.CANCELLED, CancellationReason.PAYMENT_DECLINED)
    assert shop.keyboards() == {"available": 50, "reserved": 0, "sold": 0}
    assert _types(_outbox(shop.resources, order_id)) == [
        "OrderCreated",
        "InventoryReserved",
        "PaymentDeclined",
        "InventoryReleased",
        "OrderCancelled",
    ]
    r = shop.resources
    assert shop.conflicts.tables == {r.orders_table: 2, r.reservations_table: 2, r.payments_table: 1}


def test_a_refund_meeting_a_conflict_refunds_once(shop: Shop) -> None:
    order_id = shop.place("tok_ok")
    shop.pay(order_id, "tok_ok")

    first = shop.payments.refund(order_id, **CAUSES)
    again = shop.payments.refund(order_id, **CAUSES)

    assert first is not None
    assert first.status is PaymentStatus.REFUNDED
    assert again == first
    assert _types(_outbox(shop.resources, order_id)).count("PaymentRefunded") == 1
    assert shop.conflicts.tables[shop.resources.payments_table] == 2  # the payment, then its refund


def test_an_order_out_of_stock_is_cancelled_for_that_not_for_a_conflict(shop: Shop) -> None:
    order_id = shop.place("tok_ok", quantity=51)
    with pytest.raises(OutOfStock):
        shop.inventory.reserve(order_id, [StockLine(sku="KB-001", quantity=51)], **CAUSES)
    cancelled = shop.fulfilment.cancel(order_id, reason=CancellationReason.OUT_OF_STOCK, detail="", **CAUSES)

    assert (cancelled.status, cancelled.reason) == (OrderStatus.CANCELLED, CancellationReason.OUT_OF_STOCK)
    assert shop.keyboards() == {"available": 50, "reserved": 0, "sold": 0}
    assert _types(_outbox(shop.resources, order_id)) == ["OrderCreated", "OrderCancelled"]


def test_an_order_flagged_for_attention_meeting_a_conflict_is_flagged_once(shop: Shop) -> None:
    """A compensation failed: the flag (order NEEDS_ATTENTION and its SystemAlert) is one
    transaction too, and a conflict on it is retried, not lost."""
    order_id = shop.place("tok_ok")

    flagged = shop.fulfilment.flag(order_id, problem="refund failed after its retries", **CAUSES)
    again = shop.fulfilment.flag(order_id, problem="refund failed after its retries", **CAUSES)

    assert flagged.status is OrderStatus.NEEDS_ATTENTION
    assert again.version == flagged.version  # the step ran before: nothing written twice
    assert _types(_outbox(shop.resources, order_id)) == ["OrderCreated", "SystemAlert"]
    assert shop.conflicts.tables[shop.resources.orders_table] == 2  # the placing, then the flag
