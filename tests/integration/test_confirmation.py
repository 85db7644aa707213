"""The saga's confirm and settle steps on moto: stock is sold if and only if the order is
confirmed, whatever fails in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from orderflow.adapters.catalogue import DynamoDbCatalogue
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.orders import DynamoDbOrders
from orderflow.domain.errors import InvalidTransition, OutOfStock
from orderflow.domain.inventory import ReservationStatus
from orderflow.domain.orders import Order, PlaceOrder, place_order
from orderflow.events.models import StockLine
from orderflow.events.types import CancellationReason, OrderStatus
from orderflow.services.fulfilment import FulfilmentService
from orderflow.services.inventory import InventoryService, inventory_service
from orderflow.settings import OrderStepsSettings, load
from tests.support.aws import REGION, Resources

CAUSES = {"correlation_id": "corr-1", "causation_id": "evt-1"}


class StaleReads(DynamoDbOrders):
    """Orders whose first read returns `stale`: the step decided on a version that has since
    moved (another step wrote in between)."""

    def __init__(self, stale: Order, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale: Order | None = stale

    def get(self, order_id: str) -> Order | None:
        stale, self._stale = self._stale, None
        return stale if stale is not None else super().get(order_id)


def _orders(resources: Resources, cls: type[DynamoDbOrders] = DynamoDbOrders, **kwargs: Any) -> DynamoDbOrders:
    return cls(
        orders_table=resources.orders_table,
        outbox_table=resources.outbox_table,
        outbox_retention=timedelta(days=1),
        client=boto3.client("dynamodb", region_name=REGION),
        **kwargs,
    )


@pytest.fixture
def inventory(seeded: Resources) -> InventoryService:
    load.cache_clear()
    return inventory_service(load(OrderStepsSettings))


def _place(resources: Resources, inventory: InventoryService, order_id: str) -> Order:
    """A PENDING order for 2 keyboards, with its stock reserved."""
    command = PlaceOrder.model_validate(
        {"customer_id": "c-1", "items": [{"sku": "KB-001", "quantity": 2}], "currency": "EUR", "payment_token": "t"}
    )
    catalogue = DynamoDbCatalogue(resources.catalogue_table, client=boto3.client("dynamodb", region_name=REGION))
    order, created = place_order(
        command, catalogue.get_many(["KB-001"]), order_id=order_id, correlation_id="corr-1", now=datetime.now(UTC)
    )
    _orders(resources).create(order, created)
    inventory.reserve(order_id, [StockLine(sku="KB-001", quantity=2)], **CAUSES)
    return order


@pytest.fixture
def pending(seeded: Resources, inventory: InventoryService) -> Order:
    return _place(seeded, inventory, "o-1")


def _keyboards(resources: Resources) -> dict[str, int]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    item = from_item(dynamodb.get_item(TableName=resources.catalogue_table, Key={"sku": {"S": "KB-001"}})["Item"])
    return {key: int(item.get(key, 0)) for key in ("available", "reserved", "sold")}


def _reservation_status(resources: Resources, order_id: str) -> str:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    item = dynamodb.get_item(TableName=resources.reservations_table, Key={"order_id": {"S": order_id}})["Item"]
    return str(item["status"]["S"])


def _outbox_types(resources: Resources) -> list[str]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return sorted(item["event_type"]["S"] for item in dynamodb.scan(TableName=resources.outbox_table)["Items"])


def test_confirming_sells_the_stock_and_confirms_the_order_together(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    service = FulfilmentService(_orders(seeded), inventory)

    confirmed = service.confirm("o-1", **CAUSES)
    again = service.confirm("o-1", **CAUSES)

    assert (confirmed.status, confirmed.version) == (OrderStatus.CONFIRMED, 2)
    assert again == _orders(seeded).get("o-1") == confirmed
    assert _keyboards(seeded) == {"available": 48, "reserved": 0, "sold": 2}
    assert _reservation_status(seeded, "o-1") == ReservationStatus.COMMITTED
    assert _outbox_types(seeded).count("OrderConfirmed") == 1


def test_a_confirmation_whose_order_moved_meanwhile_sells_nothing(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    """The order was cancelled after the step read it: the transaction fails as a whole, the
    stock stays reserved, and the release that follows puts it back."""
    FulfilmentService(_orders(seeded), inventory).cancel(
        "o-1", reason=CancellationReason.FULFILMENT_FAILED, detail="", **CAUSES
    )
    stale = FulfilmentService(_orders(seeded, StaleReads, stale=pending), inventory)

    with pytest.raises(InvalidTransition):
        stale.confirm("o-1", **CAUSES)

    assert _keyboards(seeded) == {"available": 48, "reserved": 2, "sold": 0}
    assert _reservation_status(seeded, "o-1") == ReservationStatus.RESERVED
    assert "OrderConfirmed" not in _outbox_types(seeded)
    inventory.release("o-1", reason="cancelled", **CAUSES)
    assert _keyboards(seeded) == {"available": 50, "reserved": 0, "sold": 0}


def test_a_released_reservation_cannot_be_confirmed(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    inventory.release("o-1", reason="payment declined", **CAUSES)

    with pytest.raises(InvalidTransition, match="its reservation is RELEASED"):
        FulfilmentService(_orders(seeded), inventory).confirm("o-1", **CAUSES)

    assert _orders(seeded).get("o-1") == pending
    assert _keyboards(seeded) == {"available": 50, "reserved": 0, "sold": 0}


def test_settling_keeps_a_stored_confirmation_and_cancels_an_unconfirmed_order(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    service = FulfilmentService(_orders(seeded), inventory)
    settle = {"reason": CancellationReason.FULFILMENT_FAILED, "detail": "Sandbox.Timedout", **CAUSES}

    assert service.settle("o-1", **settle).status is OrderStatus.CANCELLED
    assert service.settle("o-1", **settle).version == 2  # a repeat changes nothing

    _place(seeded, inventory, "o-2")
    service.confirm("o-2", **CAUSES)
    assert service.settle("o-2", **settle).status is OrderStatus.CONFIRMED
    # o-2's units sold; o-1's still reserved, for the saga's release after the settle step
    assert _keyboards(seeded) == {"available": 46, "reserved": 2, "sold": 2}


def test_a_repeated_reservation_moves_the_stock_once_even_when_it_has_run_out_since(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    """The first attempt reserved; its answer was lost; the keyboards sold out meanwhile."""
    assert _keyboards(seeded) == {"available": 48, "reserved": 2, "sold": 0}
    inventory.reserve("o-other", [StockLine(sku="KB-001", quantity=48)], **CAUSES)

    again = inventory.reserve("o-1", [StockLine(sku="KB-001", quantity=2)], **CAUSES)

    assert again.status is ReservationStatus.RESERVED
    assert _keyboards(seeded) == {"available": 0, "reserved": 50, "sold": 0}
    with pytest.raises(OutOfStock):
        inventory.reserve("o-late", [StockLine(sku="KB-001", quantity=1)], **CAUSES)
