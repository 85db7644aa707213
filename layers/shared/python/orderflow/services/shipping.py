"""Shipping: a confirmed order gets a shipment, and `OrderShipped` announces it."""

from __future__ import annotations

import uuid

from orderflow.adapters.errors import AlreadyExists
from orderflow.contracts import EventSource
from orderflow.domain.shipping import CARRIER, Shipment
from orderflow.events.models import OrderConfirmed, OrderShipped, OrderShippedData
from orderflow.services.unit_of_work import UnitOfWork


def ship(uow: UnitOfWork, confirmed: OrderConfirmed) -> OrderShipped | None:
    """One shipment per order: a redelivered OrderConfirmed ships nothing more (None)."""
    order_id = confirmed.subject
    shipment = Shipment(order_id=order_id, shipment_id=f"shp_{uuid.uuid4().hex[:16]}", carrier=CARRIER)
    shipped = OrderShipped.new(
        source=EventSource.SHIPPING,
        subject=order_id,
        correlation_id=confirmed.correlation_id,
        causation_id=confirmed.id,
        # The order's next version: it follows the confirmation it was caused by.
        sequence=confirmed.sequence + 1,
        data=OrderShippedData(
            customer_id=confirmed.data.customer_id, shipment_id=shipment.shipment_id, carrier=CARRIER
        ),
    )
    with uow:
        uow.shipments.add(shipment)
        uow.outbox.add(shipped)
        try:
            uow.commit()
        except AlreadyExists:
            return None
    return shipped
