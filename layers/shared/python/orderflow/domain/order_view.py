"""The order read model (`GET /orders/{id}`), projected from order events.

The summary moves only forward: an event whose `sequence` is not newer than the last applied
one is stale and leaves status alone. Every event still gets its timeline entry, keyed by event
id, so a duplicate delivery is recognised and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from orderflow.contracts import EventType
from orderflow.events import AnyEvent
from orderflow.events.models import OrderCancelled, OrderCreated, OrderLine
from orderflow.events.types import CancellationReason, Currency, Money, OrderStatus

STATUS_AFTER: dict[EventType, OrderStatus] = {
    EventType.ORDER_CREATED: OrderStatus.PENDING,
    EventType.ORDER_CONFIRMED: OrderStatus.CONFIRMED,
    EventType.ORDER_CANCELLED: OrderStatus.CANCELLED,
    EventType.ORDER_SHIPPED: OrderStatus.SHIPPED,
    EventType.SYSTEM_ALERT: OrderStatus.NEEDS_ATTENTION,  # an order-scoped alert (a failed compensation)
}


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: EventType
    time: datetime
    sequence: int
    event_id: str


class OrderView(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    status: OrderStatus
    reason: CancellationReason | None = None
    customer_id: str | None = None
    items: list[OrderLine] | None = None
    total: Money | None = None
    currency: Currency | None = None
    last_sequence: int
    updated_at: datetime


class Outcome(StrEnum):
    APPLIED = "applied"  # the summary changed
    STALE = "stale"  # older than what the summary shows: status left alone
    TIMELINE_ONLY = "timeline_only"  # an event that does not move the order's status


def timeline_entry(event: AnyEvent) -> TimelineEntry:
    return TimelineEntry(type=event.type, time=event.time, sequence=event.sequence, event_id=event.id)


def _details(event: OrderCreated) -> dict[str, Any]:
    data = event.data
    return {"customer_id": data.customer_id, "items": data.items, "total": data.total, "currency": data.currency}


def project(view: OrderView | None, event: AnyEvent) -> tuple[OrderView | None, Outcome]:
    """Apply one event to the summary. Returns the new summary (None when it is unchanged)."""
    status = STATUS_AFTER.get(event.type)
    if status is None:
        return None, Outcome.TIMELINE_ONLY
    details = _details(event) if isinstance(event, OrderCreated) else {}
    if view is not None and event.sequence <= view.last_sequence:
        if details and view.items is None:
            # A late OrderCreated still brings the order lines only it carries.
            return view.model_copy(update=details), Outcome.STALE
        return None, Outcome.STALE
    change: dict[str, Any] = {
        "status": status,
        "reason": event.data.reason if isinstance(event, OrderCancelled) else None,
        "last_sequence": event.sequence,
        "updated_at": event.time,
        **details,
    }
    if view is None:
        return OrderView(order_id=event.subject, **change), Outcome.APPLIED
    return view.model_copy(update=change), Outcome.APPLIED
