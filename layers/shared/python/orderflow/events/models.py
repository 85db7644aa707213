"""One model per event type in DESIGN.md. Each is an `Envelope` with a typed `data` payload.

Adding a field to a payload for the same `version` must be backward compatible (optional, with
a default); anything else is a new version. `tests/unit/test_event_schemas.py` enforces it
against the committed JSON schemas in `schemas/`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from orderflow.contracts import EventType
from orderflow.events.envelope import Envelope, Payload
from orderflow.events.types import (
    CancellationReason,
    Currency,
    Identifier,
    Money,
    Quantity,
    Sku,
)


class OrderLine(Payload):
    sku: Sku
    name: str = Field(max_length=200)
    quantity: Quantity
    unit_price: Money


class StockLine(Payload):
    sku: Sku
    quantity: Quantity


# --- domain events --------------------------------------------------------------------------


class OrderCreatedData(Payload):
    customer_id: Identifier
    items: list[OrderLine] = Field(min_length=1)
    total: Money
    currency: Currency
    payment_token: Identifier = Field(description="Opaque payment-method reference, never card data.")


class OrderCreated(Envelope[OrderCreatedData]):
    """An order was accepted: its lines priced from the catalogue, its total, the payment method."""

    event_type = EventType.ORDER_CREATED
    type: Literal[EventType.ORDER_CREATED]


class InventoryUpdatedData(Payload):
    sku: Sku
    available: int = Field(ge=0)
    reserved: int = Field(ge=0)


class InventoryUpdated(Envelope[InventoryUpdatedData]):
    """A product's stock levels changed (available and reserved units)."""

    event_type = EventType.INVENTORY_UPDATED
    type: Literal[EventType.INVENTORY_UPDATED]


class InventoryReservedData(Payload):
    items: list[StockLine] = Field(min_length=1)


class InventoryReserved(Envelope[InventoryReservedData]):
    """Stock was reserved for every line of an order."""

    event_type = EventType.INVENTORY_RESERVED
    type: Literal[EventType.INVENTORY_RESERVED]


class InventoryReleasedData(Payload):
    items: list[StockLine] = Field(min_length=1)
    reason: str = Field(max_length=500)


class InventoryReleased(Envelope[InventoryReleasedData]):
    """An order's reserved stock was given back, and why."""

    event_type = EventType.INVENTORY_RELEASED
    type: Literal[EventType.INVENTORY_RELEASED]


class PaymentReceivedData(Payload):
    payment_id: Identifier
    amount: Money
    currency: Currency


class PaymentReceived(Envelope[PaymentReceivedData]):
    """The payment provider charged the order's total."""

    event_type = EventType.PAYMENT_RECEIVED
    type: Literal[EventType.PAYMENT_RECEIVED]


class PaymentDeclinedData(Payload):
    amount: Money
    currency: Currency
    reason: str = Field(max_length=500)


class PaymentDeclined(Envelope[PaymentDeclinedData]):
    """The payment provider declined the order's payment method."""

    event_type = EventType.PAYMENT_DECLINED
    type: Literal[EventType.PAYMENT_DECLINED]


class PaymentRefundedData(Payload):
    payment_id: Identifier
    amount: Money
    currency: Currency


class PaymentRefunded(Envelope[PaymentRefundedData]):
    """An order's charge was refunded."""

    event_type = EventType.PAYMENT_REFUNDED
    type: Literal[EventType.PAYMENT_REFUNDED]


class OrderConfirmedData(Payload):
    customer_id: Identifier
    total: Money
    currency: Currency


class OrderConfirmed(Envelope[OrderConfirmedData]):
    """The order is paid and its stock sold: it ships."""

    event_type = EventType.ORDER_CONFIRMED
    type: Literal[EventType.ORDER_CONFIRMED]


class OrderCancelledData(Payload):
    customer_id: Identifier
    reason: CancellationReason
    detail: str = Field(default="", max_length=500)


class OrderCancelled(Envelope[OrderCancelledData]):
    """The order ended without shipping, with the reason."""

    event_type = EventType.ORDER_CANCELLED
    type: Literal[EventType.ORDER_CANCELLED]


class OrderShippedData(Payload):
    customer_id: Identifier
    shipment_id: Identifier
    carrier: str = Field(max_length=100)


class OrderShipped(Envelope[OrderShippedData]):
    """The order left with a carrier."""

    event_type = EventType.ORDER_SHIPPED
    type: Literal[EventType.ORDER_SHIPPED]


# --- commands -------------------------------------------------------------------------------


class ProcessPaymentData(Payload):
    amount: Money
    currency: Currency
    payment_token: Identifier
    task_token: str = Field(min_length=1, max_length=2048, description="Step Functions task token.")


class ProcessPayment(Envelope[ProcessPaymentData]):
    """Command from the fulfilment saga to the payments service: charge the order, answer with the task token."""

    event_type = EventType.PROCESS_PAYMENT
    type: Literal[EventType.PROCESS_PAYMENT]


# --- notifications --------------------------------------------------------------------------


class CustomerNotifiedData(Payload):
    customer_id: Identifier
    channel: str = Field(max_length=50)
    about: EventType
    message: str = Field(max_length=1000)


class CustomerNotified(Envelope[CustomerNotifiedData]):
    """A customer was told about an event of their order."""

    event_type = EventType.CUSTOMER_NOTIFIED
    type: Literal[EventType.CUSTOMER_NOTIFIED]


class LowStockData(Payload):
    sku: Sku
    available: int = Field(ge=0)
    threshold: int = Field(ge=0)


class LowStock(Envelope[LowStockData]):
    """Available units of a product fell below the alert threshold (a rule makes it from InventoryUpdated)."""

    event_type = EventType.LOW_STOCK
    type: Literal[EventType.LOW_STOCK]


class SystemAlertData(Payload):
    alarm: str = Field(max_length=255)
    state: str = Field(max_length=50)
    reason: str = Field(max_length=1000)


class SystemAlert(Envelope[SystemAlertData]):
    """Something needs an operator: a compensation failed after its retries and the order NEEDS_ATTENTION."""

    event_type = EventType.SYSTEM_ALERT
    type: Literal[EventType.SYSTEM_ALERT]
