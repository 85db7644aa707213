"""The orders table (write model), staged in a unit of work's transaction."""

from __future__ import annotations

from typing import Any

from orderflow.adapters.dynamodb import from_item, put, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.orders import Order


class DynamoDbOrders:
    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

    def get(self, order_id: str) -> Order | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        item = answer.get("Item")
        return Order.model_validate(from_item(item)) if item else None

    def add(self, order: Order) -> None:
        self._transaction.stage(
            put(self._table, order.model_dump(mode="json"), "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID}),
            lambda: AlreadyExists(order.order_id),
        )

    def update(self, order: Order, *, expected_version: int) -> None:
        self._transaction.stage(
            put(
                self._table,
                order.model_dump(mode="json"),
                "version = :expected",
                values={":expected": expected_version},
            ),
            lambda: ConcurrentUpdate(order.order_id),
        )
