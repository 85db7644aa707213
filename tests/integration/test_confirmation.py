"""The saga's confirm and settle steps on moto: stock is sold if and only if the order is
confirmed, whatever fails in between."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from orderflow.adapters.catalogue import DynamoDbCatalogue
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.unit_of_work import DynamoDbUnitOfWork, StoreTables
from orderflow.domain.errors import InvalidTransition, OutOfStock
from orderflow.domain.inventory import ReservationStatus
from orderflow.domain.orders import Order, PlaceOrder, place_order
from orderflow.events.models import StockLine
from orderflow.events.types import CancellationReason, OrderStatus
from orderflow.services.fulfilment import FulfilmentService
from orderflow.services.inventory import InventoryService
from orderflow.settings import OrderStepsSettings, load
from tests.support.aws import REGION, Resources
from tests.support.contention import EVENT

CAUSES = {"correlation_id": "corr-1", "causation_id": "evt-1"}


def _uow(resources: Resources, client: Any | None = None) -> DynamoDbUnitOfWork:
    """A unit of work on the tables the order-steps function is given (`resources`' names)."""
    load.cache_clear()
    client = client or boto3.client("dynamodb", region_name=REGION)
    return DynamoDbUnitOfWork(StoreTables.of(load(OrderStepsSettings)), client=client)


def _cancelled_before_commit(step_client: Any, resources: Resources) -> None:
    """Another writer cancels the order after the step read it and before the step's
    transaction is sent (a hook on the step's client, run once)."""

    def cancel(**_: Any) -> None:
        step_client.meta.events.unregister(EVENT, unique_id="cancel-meanwhile")
        FulfilmentService(_uow(resources)).cancel(
            "o-1", reason=CancellationReason.FULFILMENT_FAILED, detail="", **CAUSES
        )

    step_client.meta.events.register_first(EVENT, cancel, unique_id="cancel-meanwhile")


@pytest.fixture
def inventory(seeded: Resources) -> InventoryService:
    return InventoryService(_uow(seeded))


def _place(resources: Resources, inventory: InventoryService, order_id: str) -> Order:
    """A PENDING order for 2 keyboards, with its stock reserved."""
    command = PlaceOrder.model_validate(
        {"customer_id": "c-1", "items": [{"sku": "KB-001", "quantity": 2}], "currency": "EUR", "payment_token": "t"}
    )
    catalogue = DynamoDbCatalogue(resources.catalogue_table, client=boto3.client("dynamodb", region_name=REGION))
    order, created = place_order(
        command, catalogue.get_many(["KB-001"]), order_id=order_id, correlation_id="corr-1", now=datetime.now(UTC)
    )
    with _uow(resources) as uow:
        uow.orders.add(order)
        uow.outbox.add(created)
        uow.commit()
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
    service = FulfilmentService(_uow(seeded))

    confirmed = service.confirm("o-1", **CAUSES)
    again = service.confirm("o-1", **CAUSES)

    assert (confirmed.status, confirmed.version) == (OrderStatus.CONFIRMED, 2)
    assert again == _uow(seeded).orders.get("o-1") == confirmed
    assert _keyboards(seeded) == {"available": 48, "reserved": 0, "sold": 2}
    assert _reservation_status(seeded, "o-1") == ReservationStatus.COMMITTED
    assert _outbox_types(seeded).count("OrderConfirmed") == 1


def test_a_confirmation_whose_order_moved_meanwhile_sells_nothing(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    """The order was cancelled after the step read it: the transaction fails as a whole, the
    stock stays reserved, and the release that follows puts it back."""
    step_client = boto3.client("dynamodb", region_name=REGION)
    _cancelled_before_commit(step_client, seeded)

    with pytest.raises(InvalidTransition, match="is CANCELLED"):
        FulfilmentService(_uow(seeded, step_client)).confirm("o-1", **CAUSES)

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
        FulfilmentService(_uow(seeded)).confirm("o-1", **CAUSES)

    assert _uow(seeded).orders.get("o-1") == pending
    assert _keyboards(seeded) == {"available": 50, "reserved": 0, "sold": 0}


def test_settling_keeps_a_stored_confirmation_and_cancels_an_unconfirmed_order(
    seeded: Resources, inventory: InventoryService, pending: Order
) -> None:
    service = FulfilmentService(_uow(seeded))
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
