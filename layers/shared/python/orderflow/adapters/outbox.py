"""The outbox record: how an event is stored next to the state change that raised it, and read
back from the table's stream by the relay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orderflow.adapters.dynamodb import from_item, to_item
from orderflow.contracts import Key
from orderflow.events import AnyEvent, Envelope, parse_event


def outbox_put(table: str, event: Envelope[Any], *, retention: timedelta) -> dict[str, Any]:
    """A `Put` for `TransactWriteItems`; fails the transaction if the event id already exists.
    The record expires (TTL) after `retention`, long after the relay has published it."""
    item = {
        Key.EVENT_ID: event.id,
        "event_type": str(event.type),
        "subject": event.subject,
        "envelope": event.to_json(),
        Key.OUTBOX_TTL: int((event.time + retention).timestamp()),
    }
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": Key.EVENT_ID},
        }
    }


def event_from_stream_image(new_image: dict[str, Any]) -> AnyEvent:
    """The event held by an outbox record, from a stream record's `NewImage`."""
    return parse_event(from_item(new_image)["envelope"])
