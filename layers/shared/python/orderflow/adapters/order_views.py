"""The order-views table (read model): one summary item per order plus one timeline item per
event, under the order id. The timeline item's key contains the event id, so recording the same
event twice fails its condition: that is how duplicates are recognised."""

from __future__ import annotations

from functools import partial
from typing import Any

from orderflow.adapters.dynamodb import from_item, put, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.order_view import OrderView, TimelineEntry

SUMMARY = "SUMMARY"
EVENT_PREFIX = "EVENT#"


def _timeline_key(entry: TimelineEntry) -> str:
    return f"{EVENT_PREFIX}{entry.time.isoformat()}#{entry.event_id}"


class DynamoDbOrderViews:
    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

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
        self._transaction.stage(
            put(
                self._table,
                {Key.ORDER_ID: order_id, Key.VIEW_SK: _timeline_key(entry), **entry.model_dump(mode="json")},
                "attribute_not_exists(#sk)",
                names={"#sk": Key.VIEW_SK},
            ),
            partial(AlreadyExists, entry.event_id),
        )
        if view is None:
            return
        summary = {Key.VIEW_SK: SUMMARY, **view.model_dump(mode="json")}
        if expected_sequence is None:
            request = put(self._table, summary, "attribute_not_exists(#sk)", names={"#sk": Key.VIEW_SK})
        else:
            request = put(self._table, summary, "last_sequence = :expected", values={":expected": expected_sequence})
        self._transaction.stage(request, partial(ConcurrentUpdate, order_id))
