"""The shipments table (one shipment per order), staged in a unit of work's transaction."""

from __future__ import annotations

from functools import partial
from typing import Any

from orderflow.adapters.dynamodb import from_item, put, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.shipping import Shipment


class DynamoDbShipments:
    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

    def get(self, order_id: str) -> Shipment | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        item = answer.get("Item")
        return Shipment.model_validate(from_item(item)) if item else None

    def add(self, shipment: Shipment) -> None:
        self._transaction.stage(
            put(
                self._table, shipment.model_dump(mode="json"), "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID}
            ),
            partial(AlreadyExists, shipment.order_id),
        )
