"""The shipments table (one shipment per order), staged in a unit of work's transaction."""

from __future__ import annotations

from functools import partial

from orderflow.adapters.dynamodb import put
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.shipping import Shipment


class DynamoDbShipments:
    def __init__(self, table: str, transaction: Transaction) -> None:
        self._table = table
        self._transaction = transaction

    def add(self, shipment: Shipment) -> None:
        self._transaction.stage(
            put(
                self._table, shipment.model_dump(mode="json"), "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID}
            ),
            partial(AlreadyExists, shipment.order_id),
        )
