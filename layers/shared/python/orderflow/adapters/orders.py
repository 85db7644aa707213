"""The orders table (write model). An order is created together with its outbox event in one
DynamoDB transaction: either both are stored or neither is (no dual write)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from orderflow.adapters.dynamodb import (
    TransactionCancelled,
    cancellation_codes,
    dynamodb_client,
    from_item,
    is_error,
    put,
    to_item,
    transact,
)
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.outbox import outbox_put
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.orders import Order
from orderflow.events import Envelope


class OrderRepository(Protocol):
    def create(self, order: Order, event: Envelope[Any]) -> None: ...

    def get(self, order_id: str) -> Order | None: ...

    def update(self, order: Order, event: Envelope[Any], *, expected_version: int) -> None:
        """Store the changed order and its event; `ConcurrentUpdate` when the stored order is
        no longer at `expected_version`."""
        ...

    def update_writes(self, order: Order, event: Envelope[Any], *, expected_version: int) -> list[dict[str, Any]]:
        """The same change as `update`, as transaction items for another store to write
        together with its own (a failed condition cancels the whole transaction)."""
        ...


class DynamoDbOrders:
    def __init__(
        self,
        *,
        orders_table: str,
        outbox_table: str,
        outbox_retention: timedelta,
        client: Any | None = None,
    ) -> None:
        self._orders = orders_table
        self._outbox = outbox_table
        self._retention = outbox_retention
        self._client = dynamodb_client(client)

    def create(self, order: Order, event: Envelope[Any]) -> None:
        put_order = {
            "Put": {
                "TableName": self._orders,
                "Item": to_item(order.model_dump(mode="json")),
                "ConditionExpression": "attribute_not_exists(#id)",
                "ExpressionAttributeNames": {"#id": Key.ORDER_ID},
            }
        }
        try:
            self._client.transact_write_items(
                TransactItems=[put_order, outbox_put(self._outbox, event, retention=self._retention)]
            )
        except ClientError as error:
            if is_error(error, "TransactionCanceledException") and "ConditionalCheckFailed" in cancellation_codes(
                error
            ):
                raise AlreadyExists(order.order_id) from error
            raise

    def update(self, order: Order, event: Envelope[Any], *, expected_version: int) -> None:
        try:
            transact(self._client, self.update_writes(order, event, expected_version=expected_version))
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ConcurrentUpdate(order.order_id) from cancelled
            raise

    def update_writes(self, order: Order, event: Envelope[Any], *, expected_version: int) -> list[dict[str, Any]]:
        change = put(
            self._orders, order.model_dump(mode="json"), "version = :expected", values={":expected": expected_version}
        )
        return [change, outbox_put(self._outbox, event, retention=self._retention)]

    def get(self, order_id: str) -> Order | None:
        answer = self._client.get_item(
            TableName=self._orders, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        item = answer.get("Item")
        return Order.model_validate(from_item(item)) if item else None
