"""Stock accounting: reserving stock for an order, releasing it, and committing it as sold.

Every unit is in exactly one bucket — available, reserved or sold — so available + reserved +
sold is constant per sku whatever happens to orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from orderflow.domain.errors import OutOfStock
from orderflow.events.models import StockLine


class StockLevel(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    available: int = Field(ge=0)
    reserved: int = Field(default=0, ge=0)
    sold: int = Field(default=0, ge=0)


class ReservationStatus(StrEnum):
    RESERVED = "RESERVED"
    RELEASED = "RELEASED"
    COMMITTED = "COMMITTED"


class Reservation(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    items: list[StockLine]
    status: ReservationStatus


def reserve(levels: Mapping[str, StockLevel], items: Sequence[StockLine]) -> dict[str, StockLevel]:
    """New levels with `items` moved from available to reserved; `OutOfStock` for the first
    line that does not fit (nothing is moved then)."""
    changed: dict[str, StockLevel] = {}
    for line in items:
        level = levels.get(line.sku)
        available = level.available if level else 0
        if level is None or available < line.quantity:
            raise OutOfStock(line.sku, line.quantity, available)
        changed[line.sku] = level.model_copy(
            update={"available": available - line.quantity, "reserved": level.reserved + line.quantity}
        )
    return changed


def release(levels: Mapping[str, StockLevel], items: Sequence[StockLine]) -> dict[str, StockLevel]:
    """Reserved units back to available."""
    return {
        line.sku: levels[line.sku].model_copy(
            update={
                "available": levels[line.sku].available + line.quantity,
                "reserved": levels[line.sku].reserved - line.quantity,
            }
        )
        for line in items
    }


def commit(levels: Mapping[str, StockLevel], items: Sequence[StockLine]) -> dict[str, StockLevel]:
    """Reserved units become sold (the order is confirmed)."""
    return {
        line.sku: levels[line.sku].model_copy(
            update={
                "reserved": levels[line.sku].reserved - line.quantity,
                "sold": levels[line.sku].sold + line.quantity,
            }
        )
        for line in items
    }
