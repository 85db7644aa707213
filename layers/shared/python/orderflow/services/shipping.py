"""Shipping: a confirmed order gets a shipment, and `OrderShipped` announces it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from orderflow.adapters.dynamodb import TransactionCancelled, dynamodb_client, put, transact
from orderflow.adapters.outbox import outbox_put
from orderflow.contracts import EventSource, Key
from orderflow.events.models import OrderConfirmed, OrderShipped, OrderShippedData

CARRIER = "orderflow-logistics"


class Shipments:
    def __init__(
        self, *, shipments_table: str, outbox_table: str, outbox_retention: timedelta, client: Any | None = None
    ) -> None:
        self._table = shipments_table
        self._outbox = outbox_table
        self._retention = outbox_retention
        self._client = dynamodb_client(client)

    def ship(self, confirmed: OrderConfirmed) -> OrderShipped | None:
        """One shipment per order: a redelivered OrderConfirmed ships nothing more (None)."""
        order_id = confirmed.subject
        shipment_id = f"shp_{uuid.uuid4().hex[:16]}"
        shipped = OrderShipped.new(
            source=EventSource.SHIPPING,
            subject=order_id,
            correlation_id=confirmed.correlation_id,
            causation_id=confirmed.id,
            # The order's next version: it follows the confirmation it was caused by.
            sequence=confirmed.sequence + 1,
            data=OrderShippedData(customer_id=confirmed.data.customer_id, shipment_id=shipment_id, carrier=CARRIER),
        )
        record = {Key.ORDER_ID: order_id, "shipment_id": shipment_id, "carrier": CARRIER, "status": "SHIPPED"}
        try:
            transact(
                self._client,
                [
                    put(self._table, record, "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID}),
                    outbox_put(self._outbox, shipped, retention=self._retention),
                ],
            )
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                return None
            raise
        return shipped
