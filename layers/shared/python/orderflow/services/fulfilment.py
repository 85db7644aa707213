"""The order side of the saga: confirm, cancel, or flag an order that needs a person.

Each step moves the order to its next version together with the event announcing it, in one
unit of work; a repeated step finds the order already moved and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.contracts import EventSource
from orderflow.domain import inventory
from orderflow.domain.errors import InvalidTransition
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
from orderflow.services.inventory import FINAL_VERSION, stock_updates
from orderflow.services.unit_of_work import UnitOfWork, retry_on_conflict


class UnknownOrder(Exception):
    pass


class FulfilmentService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def confirm(self, order_id: str, *, correlation_id: str, causation_id: str) -> Order:
        """The reserved stock becomes sold and the order CONFIRMED, in one transaction: a
        confirmation that fails leaves both as they were, so its compensation can release the
        stock. `InvalidTransition` when the order or its reservation has moved on (cancelled,
        released)."""

        def attempt() -> Order:
            with self._uow as uow:
                order = _load(uow, order_id)
                new = move(order, OrderStatus.CONFIRMED)
                if new is None:
                    return order  # this step ran before
                reservation = uow.reservations.get(order_id)
                if reservation is None or reservation.status is not ReservationStatus.RESERVED:
                    state = "no reservation" if reservation is None else f"its reservation is {reservation.status}"
                    raise InvalidTransition(f"order {order_id} cannot be confirmed: {state}")
                before = uow.stock.levels(line.sku for line in reservation.items)
                after = inventory.commit(before, reservation.items)
                confirmed = OrderConfirmed.new(
                    source=EventSource.SAGA,
                    subject=order_id,
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                    sequence=new.version,
                    data=OrderConfirmedData(customer_id=new.customer_id, total=new.total, currency=new.currency),
                )
                # The order first: when it moved meanwhile, that is the outcome to decide on.
                uow.orders.update(new, expected_version=order.version)
                uow.reservations.update(
                    reservation.model_copy(update={"status": ReservationStatus.COMMITTED}),
                    expected_status=ReservationStatus.RESERVED,
                )
                uow.stock.update(before, after)
                uow.outbox.add(confirmed, *stock_updates(order_id, after, correlation_id, causation_id, FINAL_VERSION))
                uow.commit()
                return new

        # The reservation settled meanwhile (AlreadyExists) is decided again too: it shows as
        # "cannot be confirmed" on the next read.
        return retry_on_conflict(attempt, also=(AlreadyExists,))

    def settle(
        self, order_id: str, *, reason: CancellationReason, detail: str, correlation_id: str, causation_id: str
    ) -> Order:
        """After a confirmation reported failure: a confirmation that was stored all the same
        stands (the order stays CONFIRMED); otherwise the order is CANCELLED now, before its
        compensations run, so that no late confirmation can follow them."""
        order = _load(self._uow, order_id)
        if order.status is OrderStatus.CONFIRMED:
            return order
        return self.cancel(
            order_id, reason=reason, detail=detail, correlation_id=correlation_id, causation_id=causation_id
        )

    def cancel(
        self, order_id: str, *, reason: CancellationReason, detail: str, correlation_id: str, causation_id: str
    ) -> Order:
        def cancelled(new: Order) -> Envelope[Any]:
            return OrderCancelled.new(
                source=EventSource.SAGA,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=new.version,
                data=OrderCancelledData(customer_id=new.customer_id, reason=reason, detail=detail[:500]),
            )

        return self._move(order_id, OrderStatus.CANCELLED, reason, cancelled)

    def flag(self, order_id: str, *, problem: str, correlation_id: str, causation_id: str) -> Order:
        """A compensation failed after its retries: the order NEEDS_ATTENTION and a SystemAlert
        tells operators which order and why."""

        def alert(new: Order) -> Envelope[Any]:
            return SystemAlert.new(
                source=EventSource.SAGA,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=new.version,
                data=SystemAlertData(alarm="CompensationFailed", state="ALARM", reason=problem[:1000]),
            )

        return self._move(order_id, OrderStatus.NEEDS_ATTENTION, None, alert)

    def _move(
        self,
        order_id: str,
        status: OrderStatus,
        reason: CancellationReason | None,
        announce: Callable[[Order], Envelope[Any]],
    ) -> Order:
        def attempt() -> Order:
            with self._uow as uow:
                order = _load(uow, order_id)
                new = move(order, status, reason)
                if new is None:
                    return order  # this step ran before
                uow.orders.update(new, expected_version=order.version)
                uow.outbox.add(announce(new))
                uow.commit()
                return new

        return retry_on_conflict(attempt)


def _load(uow: UnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id)
    if order is None:
        raise UnknownOrder(order_id)
    return order
