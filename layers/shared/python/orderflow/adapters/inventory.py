"""Stock levels (on the catalogue items) and per-order reservations, staged in a unit of work's
transaction and guarded by optimistic conditions on what was read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from orderflow.adapters.dynamodb import batch_get, from_item, put, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.inventory import Reservation, ReservationStatus, StockLevel

COUNTERS = ("available", "reserved", "sold")


class DynamoDbStock:
    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        keys = [{Key.SKU: sku} for sku in sorted(set(skus))]
        levels = (StockLevel.model_validate(item) for item in batch_get(self._client, self._table, keys))
        return {level.sku: level for level in levels}

    def update(self, before: Mapping[str, StockLevel], after: Mapping[str, StockLevel]) -> None:
        for sku, level in after.items():
            self._transaction.stage(self._level_update(before[sku], level), partial(ConcurrentUpdate, sku))

    def _level_update(self, before: StockLevel, after: StockLevel) -> dict[str, Any]:
        """Set the three counters if they still hold what was read (a missing counter reads 0)."""
        conditions = []
        values: dict[str, Any] = {}
        for counter in COUNTERS:
            values[f":{counter}"] = getattr(after, counter)
            values[f":was_{counter}"] = getattr(before, counter)
            missing = (
                f"attribute_not_exists(#{counter}) OR "
                if counter != "available" and not values[f":was_{counter}"]
                else ""
            )
            conditions.append(f"({missing}#{counter} = :was_{counter})")
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({Key.SKU: after.sku}),
                "UpdateExpression": "SET " + ", ".join(f"#{counter} = :{counter}" for counter in COUNTERS),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": {f"#{counter}": counter for counter in COUNTERS},
                "ExpressionAttributeValues": to_item(values),
            }
        }


class DynamoDbReservations:
    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

    def get(self, order_id: str) -> Reservation | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        return Reservation.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def add(self, reservation: Reservation) -> None:
        self._transaction.stage(
            put(
                self._table,
                reservation.model_dump(mode="json"),
                "attribute_not_exists(#id)",
                names={"#id": Key.ORDER_ID},
            ),
            partial(AlreadyExists, reservation.order_id),
        )

    def update(self, reservation: Reservation, *, expected_status: ReservationStatus) -> None:
        self._transaction.stage(
            put(
                self._table,
                reservation.model_dump(mode="json"),
                "#status = :expected",
                names={"#status": "status"},
                values={":expected": str(expected_status)},
            ),
            partial(AlreadyExists, reservation.order_id),
        )
