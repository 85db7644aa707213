"""A payment as orderflow records it: one per order, paid or declined, later refunded; or voided
when the saga compensated before any charge was made, so none may be made any more."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class PaymentStatus(StrEnum):
    PAID = "PAID"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    status: PaymentStatus
    amount: Decimal
    currency: str
    payment_id: str | None = None
    reason: str | None = None
