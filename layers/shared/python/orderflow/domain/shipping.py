"""A shipment: one per confirmed order."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

CARRIER = "orderflow-logistics"


class Shipment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    shipment_id: str
    carrier: str = CARRIER
    status: str = "SHIPPED"
