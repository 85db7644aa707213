"""The outbox: events stored in the same transaction as the state change that raised them, and
read back from the table's stream by the relay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

from orderflow.adapters.dynamodb import from_item, put
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.events import AnyEvent, Envelope, parse_event


def outbox_record(event: Envelope[Any], *, retention: timedelta) -> dict[str, Any]:
    """The stored record; it expires (TTL) after `retention`, long after the relay published it."""
    return {
        Key.EVENT_ID: event.id,
        "event_type": str(event.type),
        "subject": event.subject,
        "envelope": event.to_json(),
        Key.OUTBOX_TTL: int((event.time + retention).timestamp()),
    }


class DynamoDbOutbox:
    def __init__(self, table: str, transaction: Transaction, *, retention: timedelta) -> None:
        self._table = table
        self._transaction = transaction
        self._retention = retention

    def add(self, *events: Envelope[Any]) -> None:
        for event in events:
            self._transaction.stage(
                put(
                    self._table,
                    outbox_record(event, retention=self._retention),
                    "attribute_not_exists(#id)",
                    names={"#id": Key.EVENT_ID},
                ),
                partial(AlreadyExists, event.id),
            )


def event_from_stream_image(new_image: dict[str, Any]) -> AnyEvent:
    """The event held by an outbox record, from a stream record's `NewImage`."""
    return parse_event(from_item(new_image)["envelope"])


def stored_events(client: Any, table: str) -> Iterator[AnyEvent]:
    """Every event the outbox holds (not yet expired): what reconciliation compares each
    consumer's work against."""
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            yield parse_event(from_item(item)["envelope"])
