"""Value types shared by event payloads and the API."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field

MONEY_DIGITS = 12
Money = Annotated[Decimal, Field(ge=0, max_digits=MONEY_DIGITS, decimal_places=2)]
MAX_MONEY = Decimal(10 ** (MONEY_DIGITS - 2)) - Decimal("0.01")  # 9999999999.99: the most an amount can be
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Quantity = Annotated[int, Field(ge=1, le=1000)]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class Currency(StrEnum):
    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"


class CancellationReason(StrEnum):
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_UNAVAILABLE = "PAYMENT_UNAVAILABLE"
    INVALID_ORDER = "INVALID_ORDER"
    FULFILMENT_FAILED = "FULFILMENT_FAILED"
