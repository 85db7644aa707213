"""Telling the customer about the order events that concern them."""

from __future__ import annotations

from orderflow.adapters.notifications import Notification, NotificationChannel
from orderflow.contracts import CUSTOMER_FACING_EVENTS
from orderflow.domain.errors import UnsupportedEvent
from orderflow.events import AnyEvent
from orderflow.events.models import OrderCancelled, OrderConfirmed, OrderShipped


def message_for(event: OrderConfirmed | OrderCancelled | OrderShipped) -> str:
    order = event.subject
    if isinstance(event, OrderConfirmed):
        return f"Your order {order} is confirmed: {event.data.total} {event.data.currency}."
    if isinstance(event, OrderCancelled):
        return f"Your order {order} was cancelled ({event.data.reason})."
    return f"Your order {order} has shipped with {event.data.carrier} (shipment {event.data.shipment_id})."


def notify(channel: NotificationChannel, event: AnyEvent) -> Notification:
    """Send the customer notification for `event`; the id is the event id, so the caller's
    idempotency guard (keyed on it) makes a redelivered event send nothing new."""
    if not isinstance(event, OrderConfirmed | OrderCancelled | OrderShipped):
        raise UnsupportedEvent(f"{event.type} is not one of {', '.join(CUSTOMER_FACING_EVENTS)}")
    notification = Notification(
        notification_id=event.id,
        order_id=event.subject,
        customer_id=event.data.customer_id,
        about=event.type,
        message=message_for(event),
        sent_at=event.time,
    )
    channel.send(notification)
    return notification
