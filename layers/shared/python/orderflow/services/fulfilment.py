"""The order side of the saga: confirm, cancel, or flag an order that needs a person.

Each step moves the order to its next version together with the event announcing it; a
repeated step finds the order already moved and changes nothing.
"""

from __future__ import annotations

from typing import Any

from orderflow.adapters.dynamodb import TransactionCancelled
from orderflow.adapters.orders import OrderRepository
from orderflow.contracts import EventSource
from orderflow.domain.errors import ConcurrentUpdate, InvalidTransition
from orderflow.domain.inventory import ReservationStatus
from orderflow.domain.orders import Order, move
from orderflow.events import Envelope
from orderflow.events.models import (
    OrderCancelled,
    OrderCancelledData,
    OrderConfirmed,
    OrderConfirmedData,
    SystemAlert,
    SystemAlertData,
)
from orderflow.events.types import CancellationReason, OrderStatus
from orderflow.services.inventory import InventoryService


class UnknownOrder(Exception):
    pass


class FulfilmentService:
    def __init__(self, orders: OrderRepository, inventory: InventoryService) -> None:
        self._orders = orders
        self._inventory = inventory

    def confirm(self, order_id: str, *, correlation_id: str, causation_id: str) -> Order:
        """The reserved stock becomes sold and the order CONFIRMED, in one transaction: a
        confirmation that fails leaves both as they were, so its compensation can release the
        stock. `InvalidTransition` when the order or its reservation has moved on (cancelled,
        released)."""
        order = self._load(order_id)
        new = move(order, OrderStatus.CONFIRMED)
        if new is None:
            return order  # this step ran before
        confirmed = OrderConfirmed.new(
            source=EventSource.SAGA,
            subject=order_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            sequence=new.version,
            data=OrderConfirmedData(customer_id=new.customer_id, total=new.total, currency=new.currency),
        )
        writes = self._orders.update_writes(new, confirmed, expected_version=order.version)
        try:
            reservation = self._inventory.commit(
                order_id, correlation_id=correlation_id, causation_id=causation_id, together_with=writes
            )
        except TransactionCancelled:
            # The order changed since it was read: confirmed meanwhile by a repeat of this step,
            # or cancelled.
            now = self._load(order_id)
            if move(now, OrderStatus.CONFIRMED) is None:
                return now
            raise ConcurrentUpdate(order_id) from None
        if reservation is None or reservation.status is not ReservationStatus.COMMITTED:
            state = "no reservation" if reservation is None else f"its reservation is {reservation.status}"
            raise InvalidTransition(f"order {order_id} cannot be confirmed: {state}")
        return new

    def settle(
        self, order_id: str, *, reason: CancellationReason, detail: str, correlation_id: str, causation_id: str
    ) -> Order:
        """After a confirmation reported failure: a confirmation that was stored all the same
        stands (the order stays CONFIRMED); otherwise the order is CANCELLED now, before its
        compensations run, so that no late confirmation can follow them."""
        order = self._load(order_id)
        if order.status is OrderStatus.CONFIRMED:
            return order
        return self.cancel(
            order_id, reason=reason, detail=detail, correlation_id=correlation_id, causation_id=causation_id
        )

    def cancel(
        self, order_id: str, *, reason: CancellationReason, detail: str, correlation_id: str, causation_id: str
    ) -> Order:
        order = self._load(order_id)

        def cancelled(new: Order) -> Envelope[Any]:
            return OrderCancelled.new(
                source=EventSource.SAGA,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=new.version,
                data=OrderCancelledData(customer_id=new.customer_id, reason=reason, detail=detail[:500]),
            )

        return self._move(order, OrderStatus.CANCELLED, reason, cancelled)

    def flag(self, order_id: str, *, problem: str, correlation_id: str, causation_id: str) -> Order:
        """A compensation failed after its retries: the order NEEDS_ATTENTION and a SystemAlert
        tells operators which order and why."""
        order = self._load(order_id)

        def alert(new: Order) -> Envelope[Any]:
            return SystemAlert.new(
                source=EventSource.SAGA,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=new.version,
                data=SystemAlertData(alarm="CompensationFailed", state="ALARM", reason=problem[:1000]),
            )

        return self._move(order, OrderStatus.NEEDS_ATTENTION, None, alert)

    def _load(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise UnknownOrder(order_id)
        return order

    def _move(self, order: Order, status: OrderStatus, reason: CancellationReason | None, announce: Any) -> Order:
        new = move(order, status, reason)
        if new is None:
            return order  # this step ran before
        self._orders.update(new, announce(new), expected_version=order.version)
        return new
