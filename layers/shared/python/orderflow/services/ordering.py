"""Order intake and queries behind the orders API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from orderflow.adapters.catalogue import Catalogue
from orderflow.adapters.errors import AlreadyExists
from orderflow.domain.errors import InvalidOrder
from orderflow.domain.orders import Order, PlaceOrder, Product, place_order
from orderflow.events.models import OrderLine
from orderflow.events.types import CancellationReason, Currency, Money, OrderStatus
from orderflow.services.unit_of_work import UnitOfWork


class OrderAccepted(BaseModel):
    """Body of the 202 answer to `POST /orders`."""

    order_id: str
    status: OrderStatus
    customer_id: str
    items: list[OrderLine]
    total: Money
    currency: Currency
    created_at: datetime


class TimelineItem(BaseModel):
    type: str
    time: datetime


class OrderDetails(BaseModel):
    """Body of `GET /orders/{order_id}`."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    status: OrderStatus
    reason: CancellationReason | None = None
    customer_id: str | None
    items: list[OrderLine] | None
    total: Money | None
    currency: Currency | None
    timeline: list[TimelineItem]


def _new_order_id() -> str:
    return str(uuid.uuid4())


# Order ids for requests with an Idempotency-Key: derived from the customer and the key.
IDEMPOTENT_ORDER_IDS = uuid.UUID("5b0f61c2-3c1e-4f53-9d6e-8f1f3c2b7a10")


def order_id_for(customer_id: str, idempotency_key: str) -> str:
    """The same request retried gets the same order id, so it cannot create a second order even
    when the idempotency record of its first attempt was lost (the function failed after the
    order was written and before the record was completed)."""
    return str(uuid.uuid5(IDEMPOTENT_ORDER_IDS, f"{customer_id}\n{idempotency_key}"))


def _lines(order: Order) -> list[tuple[str, int]]:
    return [(line.sku, line.quantity) for line in order.items]


def _now() -> datetime:
    return datetime.now(UTC)


class OrderingService:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        uow: UnitOfWork,
        new_id: Callable[[], str] = _new_order_id,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._catalogue = catalogue
        self._uow = uow
        self._new_id = new_id
        self._clock = clock

    def products(self) -> list[Product]:
        return self._catalogue.list_all()

    def place(self, command: PlaceOrder, *, correlation_id: str, idempotency_key: str | None = None) -> OrderAccepted:
        """Price the order from the catalogue and store it with its `OrderCreated` outbox
        record. Raises `InvalidOrder` (nothing written) when a line does not fit the catalogue.
        With an idempotency key, placing it again answers with the order already stored, or
        `InvalidOrder` when the key was used for a different order."""
        catalogue = self._catalogue.get_many(line.sku for line in command.items)
        order_id = self._new_id() if idempotency_key is None else order_id_for(command.customer_id, idempotency_key)
        order, event = place_order(
            command, catalogue, order_id=order_id, correlation_id=correlation_id, now=self._clock()
        )
        try:
            with self._uow as uow:
                uow.orders.add(order)
                uow.outbox.add(event)
                uow.commit()
        except AlreadyExists:
            stored = self._uow.orders.get(order_id)
            if stored is None or _lines(stored) != _lines(order) or stored.currency != order.currency:
                raise InvalidOrder("Idempotency-Key", "already used for a different order") from None
            return _accepted(stored)
        return _accepted(order)

    def details(self, order_id: str) -> OrderDetails | None:
        """The read model; until the projection has caught up with a new order, the order as
        stored at intake (PENDING, empty timeline), so a client following `Location` finds it."""
        view, timeline = self._uow.views.get(order_id)
        if view is not None:
            return OrderDetails(
                order_id=view.order_id,
                status=view.status,
                reason=view.reason,
                customer_id=view.customer_id,
                items=view.items,
                total=view.total,
                currency=view.currency,
                timeline=[TimelineItem(type=entry.type, time=entry.time) for entry in timeline],
            )
        order = self._uow.orders.get(order_id)
        if order is None:
            return None
        return OrderDetails(
            order_id=order.order_id,
            status=order.status,
            reason=order.reason,
            customer_id=order.customer_id,
            items=order.items,
            total=order.total,
            currency=order.currency,
            timeline=[],
        )


def _accepted(order: Order) -> OrderAccepted:
    return OrderAccepted(
        order_id=order.order_id,
        status=order.status,
        customer_id=order.customer_id,
        items=order.items,
        total=order.total,
        currency=order.currency,
        created_at=order.created_at,
    )
