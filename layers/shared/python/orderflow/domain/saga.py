"""What the fulfilment saga carries from step to step: the order as `OrderCreated` announced it,
plus what the steps add (the payment, the reason for a cancellation, the error caught).

Every Lambda task of the state machine receives `{"step": <name>, "saga": <this state>}`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from orderflow.events.models import OrderCreated, OrderLine, StockLine
from orderflow.events.types import CancellationReason, Currency, Money


class SagaContext(BaseModel):
    """The execution input, and each task's input (tasks read the fields they need)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: str
    customer_id: str
    items: list[OrderLine]
    total: Money
    currency: Currency
    payment_token: str
    correlation_id: str
    event_id: str  # the OrderCreated that started the saga: the cause of what the steps raise
    # Until when a payment the provider cannot take now is tried again (RFC 3339, UTC, as
    # Step Functions compares timestamps): the order's creation plus the payment deadline.
    payment_deadline: str | None = None  # None: an execution started before deadlines existed
    reason: CancellationReason | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_event(
        cls, event: OrderCreated, *, payment_deadline: timedelta, now: datetime | None = None
    ) -> SagaContext:
        """The saga of `event`'s order. Its payment deadline counts from the order's creation,
        or from now when the saga starts later (a start redriven from its DLQ gets the whole
        deadline, not one already passed)."""
        start = max(event.time, now or datetime.now(UTC))
        deadline = (start + payment_deadline).astimezone(UTC)
        return cls(
            order_id=event.subject,
            customer_id=event.data.customer_id,
            items=event.data.items,
            total=event.data.total,
            currency=event.data.currency,
            payment_token=event.data.payment_token,
            correlation_id=event.correlation_id,
            event_id=event.id,
            payment_deadline=deadline.strftime("%Y-%m-%dT%H:%M:%S.") + f"{deadline.microsecond // 1000:03d}Z",
        )

    @property
    def stock_lines(self) -> list[StockLine]:
        return [StockLine(sku=line.sku, quantity=line.quantity) for line in self.items]

    @property
    def error_detail(self) -> str:
        """The caught error (Step Functions' `{"Error", "Cause"}`) as one line."""
        if not self.error:
            return ""
        return f"{self.error.get('Error', '')}: {self.error.get('Cause', '')}".strip(": ")
