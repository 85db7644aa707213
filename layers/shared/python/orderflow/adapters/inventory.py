"""Stock levels (on the catalogue items) and per-order reservations, changed together with
their outbox events in one transaction, guarded by optimistic conditions on the levels read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from orderflow.adapters.dynamodb import (
    TransactionCancelled,
    batch_get,
    dynamodb_client,
    from_item,
    put,
    to_item,
    transact,
)
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.outbox import outbox_put
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.inventory import Reservation, ReservationStatus, StockLevel
from orderflow.events import Envelope


class InventoryStore(Protocol):
    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]: ...

    def reservation(self, order_id: str) -> Reservation | None: ...

    def save(
        self,
        *,
        before: Mapping[str, StockLevel],
        after: Mapping[str, StockLevel],
        reservation: Reservation,
        previous_status: ReservationStatus | None,
        events: Sequence[Envelope[Any]],
        also: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Write levels, reservation, events and the transaction items `also` atomically.
        `AlreadyExists` when the reservation is no longer in `previous_status` (the step was
        applied before); `ConcurrentUpdate` when a level changed since it was read;
        `TransactionCancelled` when a condition of `also` failed."""
        ...


class DynamoDbInventory:
    def __init__(
        self,
        *,
        catalogue_table: str,
        reservations_table: str,
        outbox_table: str,
        outbox_retention: timedelta,
        client: Any | None = None,
    ) -> None:
        self._catalogue = catalogue_table
        self._reservations = reservations_table
        self._outbox = outbox_table
        self._retention = outbox_retention
        self._client = dynamodb_client(client)

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        keys = [{Key.SKU: sku} for sku in sorted(set(skus))]
        levels = (StockLevel.model_validate(item) for item in batch_get(self._client, self._catalogue, keys))
        return {level.sku: level for level in levels}

    def reservation(self, order_id: str) -> Reservation | None:
        answer = self._client.get_item(
            TableName=self._reservations, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        return Reservation.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def save(
        self,
        *,
        before: Mapping[str, StockLevel],
        after: Mapping[str, StockLevel],
        reservation: Reservation,
        previous_status: ReservationStatus | None,
        events: Sequence[Envelope[Any]],
        also: Sequence[dict[str, Any]] = (),
    ) -> None:
        if previous_status is None:
            guard = put(
                self._reservations,
                reservation.model_dump(mode="json"),
                "attribute_not_exists(#id)",
                names={"#id": Key.ORDER_ID},
            )
        else:
            guard = put(
                self._reservations,
                reservation.model_dump(mode="json"),
                "#status = :previous",
                names={"#status": "status"},
                values={":previous": str(previous_status)},
            )
        levels = [self._level_update(before[sku], level) for sku, level in after.items()]
        outbox = [outbox_put(self._outbox, event, retention=self._retention) for event in events]
        try:
            transact(self._client, [guard, *levels, *outbox, *also])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise AlreadyExists(reservation.order_id) from cancelled
            if any(cancelled.failed(index) for index in range(1, 1 + len(levels))):
                raise ConcurrentUpdate(reservation.order_id) from cancelled
            raise

    def _level_update(self, before: StockLevel, after: StockLevel) -> dict[str, Any]:
        """Set the three counters if they still hold what was read (a missing counter reads 0)."""
        conditions = ["#available = :was_available"]
        values: dict[str, Any] = {
            ":available": after.available,
            ":reserved": after.reserved,
            ":sold": after.sold,
            ":was_available": before.available,
        }
        for counter in ("reserved", "sold"):
            values[f":was_{counter}"] = getattr(before, counter)
            missing = f"attribute_not_exists(#{counter}) OR " if getattr(before, counter) == 0 else ""
            conditions.append(f"({missing}#{counter} = :was_{counter})")
        return {
            "Update": {
                "TableName": self._catalogue,
                "Key": to_item({Key.SKU: after.sku}),
                "UpdateExpression": "SET #available = :available, #reserved = :reserved, #sold = :sold",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": {"#available": "available", "#reserved": "reserved", "#sold": "sold"},
                "ExpressionAttributeValues": to_item(values),
            }
        }
