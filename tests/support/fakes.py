"""In-memory fakes of orderflow's ports, for unit tests of services and handlers' logic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.notifications import Notification
from orderflow.adapters.publishers import Refused
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.order_view import OrderView, TimelineEntry
from orderflow.domain.orders import Order, Product
from orderflow.events import Envelope


class FakeCatalogue:
    def __init__(self, products: Iterable[Product] = ()) -> None:
        self.products = {product.sku: product for product in products}

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def list_all(self) -> list[Product]:
        return sorted(self.products.values(), key=lambda product: product.sku)


class FakeOrders:
    """Orders and their outbox: a create stores both or neither, like the transaction."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.outbox: list[Envelope[Any]] = []

    def create(self, order: Order, event: Envelope[Any]) -> None:
        if order.order_id in self.orders:
            raise AlreadyExists(order.order_id)
        self.orders[order.order_id] = order
        self.outbox.append(event)

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)


class FakeOrderViews:
    def __init__(self) -> None:
        self.views: dict[str, OrderView] = {}
        self.timelines: dict[str, dict[str, TimelineEntry]] = {}

    def get(self, order_id: str) -> tuple[OrderView | None, list[TimelineEntry]]:
        timeline = sorted(self.timelines.get(order_id, {}).values(), key=lambda entry: (entry.time, entry.sequence))
        return self.views.get(order_id), timeline

    def record(
        self, order_id: str, entry: TimelineEntry, view: OrderView | None, *, expected_sequence: int | None
    ) -> None:
        entries = self.timelines.setdefault(order_id, {})
        if entry.event_id in entries:
            raise AlreadyExists(entry.event_id)
        current = self.views.get(order_id)
        if view is not None and (current.last_sequence if current else None) != expected_sequence:
            raise ConcurrentUpdate(order_id)
        entries[entry.event_id] = entry
        if view is not None:
            self.views[order_id] = view


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class FakePublisher:
    """A router that takes events in order and refuses the one at `refuse_at` (and everything
    after it, like the real publishers)."""

    def __init__(self, refuse_at: int | None = None) -> None:
        self.published: list[Envelope[Any]] = []
        self.refuse_at = refuse_at

    def publish(self, events: Sequence[Envelope[Any]]) -> Refused | None:
        if self.refuse_at is not None and self.refuse_at < len(events):
            self.published.extend(events[: self.refuse_at])
            return Refused(self.refuse_at, "refused")
        self.published.extend(events)
        return None
