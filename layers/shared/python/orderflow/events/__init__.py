"""Event envelope, one model per event type, and parsing of any event by its `type`."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, TypeAlias

from pydantic import Field, TypeAdapter

from orderflow.contracts import EventType
from orderflow.events.envelope import Envelope
from orderflow.events.models import (
    CustomerNotified,
    InventoryReleased,
    InventoryReserved,
    InventoryUpdated,
    LowStock,
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderShipped,
    PaymentDeclined,
    PaymentReceived,
    PaymentRefunded,
    ProcessPayment,
    SystemAlert,
)

EVENT_MODELS: dict[EventType, type[Envelope[Any]]] = {
    model.event_type: model
    for model in (
        OrderCreated,
        InventoryUpdated,
        InventoryReserved,
        InventoryReleased,
        PaymentReceived,
        PaymentDeclined,
        PaymentRefunded,
        OrderConfirmed,
        OrderCancelled,
        OrderShipped,
        ProcessPayment,
        CustomerNotified,
        LowStock,
        SystemAlert,
    )
}

AnyEvent: TypeAlias = Annotated[
    OrderCreated
    | InventoryUpdated
    | InventoryReserved
    | InventoryReleased
    | PaymentReceived
    | PaymentDeclined
    | PaymentRefunded
    | OrderConfirmed
    | OrderCancelled
    | OrderShipped
    | ProcessPayment
    | CustomerNotified
    | LowStock
    | SystemAlert,
    Field(discriminator="type"),
]


@cache
def _any_event() -> TypeAdapter[AnyEvent]:
    """Built at the first parse, not at import: a function that only raises events never pays
    for the validators of all of them."""
    return TypeAdapter(AnyEvent)


def parse_event(raw: str | bytes) -> AnyEvent:
    """Parse a JSON envelope into its event class; raises `pydantic.ValidationError`
    for malformed JSON, an unknown type or a payload that breaks its schema."""
    return _any_event().validate_json(raw)


def parse_event_dict(raw: dict[str, Any]) -> AnyEvent:
    return _any_event().validate_python(raw)


__all__ = ["EVENT_MODELS", "AnyEvent", "Envelope", "parse_event", "parse_event_dict"]
