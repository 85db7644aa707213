"""Placing an order: the `PlaceOrder` command, the `Order` aggregate and the event it raises.

Prices come from the catalogue, never from the client: the command names skus and quantities,
`place_order` looks each up and computes the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from orderflow.contracts import EventSource
from orderflow.domain.errors import InvalidOrder, InvalidTransition
from orderflow.events.models import OrderCreated, OrderCreatedData, OrderLine
from orderflow.events.types import MAX_MONEY, CancellationReason, Currency, Money, OrderStatus, Quantity, Sku
from orderflow.limits import MAX_LINES

# Text a client names things with: no control characters, not only blanks, bounded.
PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
ClientIdentifier = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE)]


class RequestedLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: Quantity


class PlaceOrder(BaseModel):
    """Body of `POST /orders`. Strict: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: ClientIdentifier
    items: list[RequestedLine] = Field(min_length=1, max_length=MAX_LINES)
    currency: Currency
    payment_token: ClientIdentifier


class Product(BaseModel):
    """A catalogue entry (one item of the catalogue table)."""

    model_config = ConfigDict(frozen=True)

    sku: Sku
    name: str
    price: Money
    currency: Currency
    available: int = Field(ge=0)


class Order(BaseModel):
    """The order aggregate as the orders table stores it. `version` is the aggregate version
    that becomes the `sequence` of each event it raises."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    customer_id: str
    items: list[OrderLine]
    total: Money
    currency: Currency
    status: OrderStatus
    version: int
    created_at: datetime
    correlation_id: str
    reason: CancellationReason | None = None


def price_lines(command: PlaceOrder, catalogue: Mapping[str, Product]) -> list[OrderLine]:
    """Turn requested skus into priced lines; every problem names the offending field."""
    seen: set[str] = set()
    lines: list[OrderLine] = []
    for index, line in enumerate(command.items):
        field = f"items[{index}].sku"
        if line.sku in seen:
            raise InvalidOrder(field, f"duplicate sku '{line.sku}'; give each sku once")
        seen.add(line.sku)
        product = catalogue.get(line.sku)
        if product is None:
            raise InvalidOrder(field, f"unknown sku '{line.sku}'")
        if product.currency != command.currency:
            raise InvalidOrder(
                field, f"'{line.sku}' is priced in {product.currency}, the order is in {command.currency}"
            )
        lines.append(OrderLine(sku=line.sku, name=product.name, quantity=line.quantity, unit_price=product.price))
    return lines


def place_order(
    command: PlaceOrder,
    catalogue: Mapping[str, Product],
    *,
    order_id: str,
    correlation_id: str,
    now: datetime,
) -> tuple[Order, OrderCreated]:
    """Create a PENDING order and its `OrderCreated` event (sequence 1)."""
    lines = price_lines(command, catalogue)
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
    if total > MAX_MONEY:
        raise InvalidOrder("items", f"the order's total {total} is more than an order can be ({MAX_MONEY})")
    order = Order(
        order_id=order_id,
        customer_id=command.customer_id,
        items=lines,
        total=total,
        currency=command.currency,
        status=OrderStatus.PENDING,
        version=1,
        created_at=now,
        correlation_id=correlation_id,
    )
    event = OrderCreated.new(
        source=EventSource.ORDERS,
        subject=order_id,
        correlation_id=correlation_id,
        sequence=order.version,
        time=now,
        data=OrderCreatedData(
            customer_id=command.customer_id,
            items=lines,
            total=total,
            currency=command.currency,
            payment_token=command.payment_token,
        ),
    )
    return order, event


TERMINAL = frozenset({OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.NEEDS_ATTENTION})


def move(order: Order, status: OrderStatus, reason: CancellationReason | None = None) -> Order | None:
    """The order in its new status (the next version), or None when it is already there.
    Only a PENDING order moves to CONFIRMED or CANCELLED; any order can need attention."""
    if order.status is status:
        return None
    if status is not OrderStatus.NEEDS_ATTENTION and order.status is not OrderStatus.PENDING:
        raise InvalidTransition(f"order {order.order_id} is {order.status}, cannot become {status}")
    return order.model_copy(update={"status": status, "reason": reason, "version": order.version + 1})
