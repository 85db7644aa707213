"""The inventory side of the saga: reserve stock for an order, release it, commit it as sold.

Each step is idempotent on (order id, step): the reservation's status is the record of which
steps happened, and every write is conditional on it. Stock levels are read, decided on in
`orderflow.domain.inventory`, and written back only if unchanged (retried on contention).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.inventory import DynamoDbInventory, InventoryStore
from orderflow.contracts import EventSource
from orderflow.domain import inventory
from orderflow.domain.errors import ConcurrentUpdate, OutOfStock
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
from orderflow.settings import InventorySettings

ATTEMPTS = 5
Decision = tuple[dict[str, StockLevel], list[Envelope[Any]]]  # new levels and the events announcing them
# The reservation is the aggregate inventory events belong to: reserved is its version 1,
# released or committed its version 2.
RESERVED_VERSION, FINAL_VERSION = 1, 2


class InventoryService:
    def __init__(self, store: InventoryStore) -> None:
        self._store = store

    def reserve(
        self, order_id: str, items: Sequence[StockLine], *, correlation_id: str, causation_id: str
    ) -> Reservation:
        """Move the order's lines from available to reserved; `OutOfStock` (nothing moved) when
        a line does not fit. A second call for the same order changes nothing: the reservation's
        create condition finds the first one (no read before every first attempt)."""
        reservation = Reservation(order_id=order_id, items=list(items), status=ReservationStatus.RESERVED)

        def reserved(levels: Mapping[str, StockLevel]) -> Decision:
            after = inventory.reserve(levels, items)
            event = InventoryReserved.new(
                source=EventSource.INVENTORY,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=RESERVED_VERSION,
                data=InventoryReservedData(items=list(items)),
            )
            return after, [event, *self._updates(order_id, after, correlation_id, event.id, RESERVED_VERSION)]

        try:
            return self._change(reservation, None, reserved)
        except OutOfStock:
            existing = self._store.reservation(order_id)
            if existing is not None:
                return existing  # reserved by an earlier attempt, before the stock ran out
            raise

    def release(self, order_id: str, *, reason: str, correlation_id: str, causation_id: str) -> Reservation | None:
        """Reserved units back to available. No reservation, or one already released or
        committed: nothing to do."""

        def released(current: Reservation, levels: Mapping[str, StockLevel]) -> Decision:
            after = inventory.release(levels, current.items)
            event = InventoryReleased.new(
                source=EventSource.INVENTORY,
                subject=order_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                sequence=FINAL_VERSION,
                data=InventoryReleasedData(items=current.items, reason=reason),
            )
            return after, [event, *self._updates(order_id, after, correlation_id, event.id, FINAL_VERSION)]

        return self._settle(order_id, ReservationStatus.RELEASED, released)

    def commit(
        self, order_id: str, *, correlation_id: str, causation_id: str, together_with: Sequence[dict[str, Any]] = ()
    ) -> Reservation | None:
        """Reserved units become sold, in one transaction with the writes `together_with` (the
        order's confirmation): stock is never sold for an order that was not confirmed."""

        def committed(current: Reservation, levels: Mapping[str, StockLevel]) -> Decision:
            after = inventory.commit(levels, current.items)
            return after, self._updates(order_id, after, correlation_id, causation_id, FINAL_VERSION)

        return self._settle(order_id, ReservationStatus.COMMITTED, committed, together_with)

    def _settle(
        self,
        order_id: str,
        status: ReservationStatus,
        decide: Callable[[Reservation, Mapping[str, StockLevel]], Decision],
        together_with: Sequence[dict[str, Any]] = (),
    ) -> Reservation | None:
        """Move a RESERVED reservation to its final status; anything else is left as it is."""
        current = self._store.reservation(order_id)
        if current is None or current.status is not ReservationStatus.RESERVED:
            return current
        return self._change(
            current.model_copy(update={"status": status}),
            ReservationStatus.RESERVED,
            lambda levels: decide(current, levels),
            together_with,
        )

    def _change(
        self,
        reservation: Reservation,
        previous: ReservationStatus | None,
        decide: Callable[[Mapping[str, StockLevel]], Decision],
        together_with: Sequence[dict[str, Any]] = (),
    ) -> Reservation:
        skus = [line.sku for line in reservation.items]
        for _ in range(ATTEMPTS):
            before = self._store.levels(skus)
            after, events = decide(before)
            try:
                self._store.save(
                    before=before,
                    after=after,
                    reservation=reservation,
                    previous_status=previous,
                    events=events,
                    also=together_with,
                )
            except ConcurrentUpdate:
                continue  # another order moved the same stock: read again
            except AlreadyExists:
                stored = self._store.reservation(reservation.order_id)
                assert stored is not None
                return stored
            return reservation
        raise ConcurrentUpdate(reservation.order_id)

    @staticmethod
    def _updates(
        order_id: str, levels: Mapping[str, StockLevel], correlation_id: str, causation_id: str, sequence: int
    ) -> list[Envelope[Any]]:
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


def inventory_service(settings: InventorySettings) -> InventoryService:
    """The service on the DynamoDB tables named in `settings` (the functions' composition root)."""
    return InventoryService(
        DynamoDbInventory(
            catalogue_table=settings.catalogue_table,
            reservations_table=settings.reservations_table,
            outbox_table=settings.outbox_table,
            outbox_retention=timedelta(days=settings.outbox_retention_days),
        )
    )
