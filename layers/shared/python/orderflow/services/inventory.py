"""The inventory side of the saga: reserve stock for an order, release it.

Each step is idempotent on (order id, step): the reservation's status is the record of which
steps happened, and every write is conditional on it. Stock levels are read, decided on in
`orderflow.domain.inventory`, and written back only if unchanged (decided again on contention).
Selling reserved stock belongs to the order's confirmation (`FulfilmentService.confirm`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.contracts import EventSource
from orderflow.domain import inventory
from orderflow.domain.errors import OutOfStock
from orderflow.domain.inventory import Reservation, ReservationStatus, StockLevel
from orderflow.events import Envelope
from orderflow.events.models import (
    InventoryReleased,
    InventoryReleasedData,
    InventoryReserved,
    InventoryReservedData,
    InventoryUpdated,
    InventoryUpdatedData,
    StockLine,
)
from orderflow.services.unit_of_work import UnitOfWork, retry_on_conflict

# The reservation is the aggregate inventory events belong to: reserved is its version 1,
# released or committed its version 2.
RESERVED_VERSION, FINAL_VERSION = 1, 2


class InventoryService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def reserve(
        self, order_id: str, items: Sequence[StockLine], *, correlation_id: str, causation_id: str
    ) -> Reservation:
        """Move the order's lines from available to reserved; `OutOfStock` (nothing moved) when
        a line does not fit. A second call for the same order changes nothing: the reservation's
        create condition finds the first one (no read before every first attempt)."""
        reservation = Reservation(order_id=order_id, items=list(items), status=ReservationStatus.RESERVED)

        def attempt() -> Reservation:
            with self._uow as uow:
                before = uow.stock.levels(line.sku for line in items)
                after = inventory.reserve(before, items)
                reserved = InventoryReserved.new(
                    source=EventSource.INVENTORY,
                    subject=order_id,
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                    sequence=RESERVED_VERSION,
                    data=InventoryReservedData(items=list(items)),
                )
                uow.reservations.add(reservation)
                uow.stock.update(before, after)
                uow.outbox.add(reserved, *stock_updates(order_id, after, correlation_id, reserved.id, RESERVED_VERSION))
                uow.commit()
                return reservation

        try:
            return retry_on_conflict(attempt)
        except (AlreadyExists, OutOfStock):
            existing = self._uow.reservations.get(order_id)
            if existing is not None:
                return existing  # reserved by an earlier attempt (before the stock ran out)
            raise

    def release(self, order_id: str, *, reason: str, correlation_id: str, causation_id: str) -> Reservation | None:
        """Reserved units back to available. No reservation, or one already released or
        committed: nothing to do."""

        def attempt() -> Reservation | None:
            with self._uow as uow:
                current = uow.reservations.get(order_id)
                if current is None or current.status is not ReservationStatus.RESERVED:
                    return current
                before = uow.stock.levels(line.sku for line in current.items)
                after = inventory.release(before, current.items)
                released = InventoryReleased.new(
                    source=EventSource.INVENTORY,
                    subject=order_id,
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                    sequence=FINAL_VERSION,
                    data=InventoryReleasedData(items=current.items, reason=reason),
                )
                new = current.model_copy(update={"status": ReservationStatus.RELEASED})
                uow.reservations.update(new, expected_status=ReservationStatus.RESERVED)
                uow.stock.update(before, after)
                uow.outbox.add(released, *stock_updates(order_id, after, correlation_id, released.id, FINAL_VERSION))
                uow.commit()
                return new

        try:
            return retry_on_conflict(attempt)
        except AlreadyExists:
            return self._uow.reservations.get(order_id)  # settled meanwhile by a repeat of this step


def stock_updates(
    order_id: str, levels: Mapping[str, StockLevel], correlation_id: str, causation_id: str, sequence: int
) -> list[Envelope[Any]]:
    """One `InventoryUpdated` per sku whose level changed."""
    return [
        InventoryUpdated.new(
            source=EventSource.INVENTORY,
            subject=order_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            sequence=sequence,
            data=InventoryUpdatedData(sku=level.sku, available=level.available, reserved=level.reserved),
        )
        for level in levels.values()
    ]
