"""The order-views table (read model): one summary item per order plus one timeline item per
event, under the order id. The timeline item's key contains the event id, so recording the same
event twice fails its condition: that is how duplicates are recognised."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import ClientError

from orderflow.adapters.dynamodb import cancellation_codes, dynamodb_client, from_item, is_error, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.order_view import OrderView, TimelineEntry

SUMMARY = "SUMMARY"
EVENT_PREFIX = "EVENT#"


class OrderViewStore(Protocol):
    def get(self, order_id: str) -> tuple[OrderView | None, list[TimelineEntry]]: ...

    def record(
        self, order_id: str, entry: TimelineEntry, view: OrderView | None, *, expected_sequence: int | None
    ) -> None:
        """Store the timeline entry and, when given, the new summary, atomically.

        Raises `AlreadyExists` when the entry was recorded before (a duplicate event) and
        `ConcurrentUpdate` when the summary is no longer at `expected_sequence`.
        """
        ...


def _timeline_key(entry: TimelineEntry) -> str:
    return f"{EVENT_PREFIX}{entry.time.isoformat()}#{entry.event_id}"


class DynamoDbOrderViews:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = dynamodb_client(client)

    def get(self, order_id: str) -> tuple[OrderView | None, list[TimelineEntry]]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": Key.ORDER_ID},
            ExpressionAttributeValues=to_item({":pk": order_id}),
            ConsistentRead=True,
        )
        view: OrderView | None = None
        timeline: list[TimelineEntry] = []
        for page in pages:
            for raw in page["Items"]:
                item = from_item(raw)
                if item[Key.VIEW_SK] == SUMMARY:
                    view = OrderView.model_validate(item)
                else:
                    timeline.append(TimelineEntry.model_validate(item))
        timeline.sort(key=lambda entry: (entry.time, entry.sequence))
        return view, timeline

    def record(
        self, order_id: str, entry: TimelineEntry, view: OrderView | None, *, expected_sequence: int | None
    ) -> None:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {Key.ORDER_ID: order_id, Key.VIEW_SK: _timeline_key(entry), **entry.model_dump(mode="json")}
                    ),
                    "ConditionExpression": "attribute_not_exists(#sk)",
                    "ExpressionAttributeNames": {"#sk": Key.VIEW_SK},
                }
            }
        ]
        if view is not None:
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": to_item({Key.VIEW_SK: SUMMARY, **view.model_dump(mode="json")}),
            }
            if expected_sequence is None:
                put["ConditionExpression"] = "attribute_not_exists(#sk)"
                put["ExpressionAttributeNames"] = {"#sk": Key.VIEW_SK}
            else:
                put["ConditionExpression"] = "last_sequence = :expected"
                put["ExpressionAttributeValues"] = to_item({":expected": expected_sequence})
            items.append({"Put": put})
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not is_error(error, "TransactionCanceledException"):
                raise
            codes = cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise AlreadyExists(entry.event_id) from error
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise ConcurrentUpdate(order_id) from error
            raise
