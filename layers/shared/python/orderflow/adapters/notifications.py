"""The customer notification channel. orderflow ships a simulated channel that records every
notification in a table (what a real e-mail or SMS provider adapter would replace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from orderflow.adapters.dynamodb import dynamodb_client, from_item, to_item
from orderflow.contracts import EventType, Key


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    order_id: str
    customer_id: str
    about: EventType
    message: str
    sent_at: datetime


class NotificationChannel(Protocol):
    def send(self, notification: Notification) -> None: ...


class RecordingChannel:
    """Records each notification under its order (partition) and id (sort key)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = dynamodb_client(client)

    def send(self, notification: Notification) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(notification.model_dump(mode="json")))

    def sent_for(self, order_id: str) -> list[Notification]:
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": Key.ORDER_ID},
            ExpressionAttributeValues=to_item({":pk": order_id}),
        )
        return [Notification.model_validate(from_item(item)) for item in answer["Items"]]
