"""In-memory fakes of orderflow's ports, for unit tests of services and handlers' logic."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.notifications import Notification
from orderflow.adapters.publishers import Refused
from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.inventory import Reservation, ReservationStatus, StockLevel
from orderflow.domain.order_view import OrderView, TimelineEntry
from orderflow.domain.orders import Order, Product
from orderflow.domain.payments import Payment, PaymentStatus
from orderflow.domain.shipping import Shipment
from orderflow.events import Envelope


class FakeCatalogue:
    def __init__(self, products: Iterable[Product] = ()) -> None:
        self.products = {product.sku: product for product in products}

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def list_all(self) -> list[Product]:
        return sorted(self.products.values(), key=lambda product: product.sku)


Check = Callable[[], Exception | None]  # the outcome of a staged write's condition, None when it holds


class FakeUnitOfWork:
    """The unit of work in memory: repositories stage (condition, change) pairs; `commit()`
    checks every condition against the stored state, raises the first failure's outcome with
    nothing changed, or applies every change. `before_commit` runs just before the checks: a
    test uses it to let "another writer" change the state between a use case's read and its
    commit."""

    def __init__(self) -> None:
        self.orders_by_id: dict[str, Order] = {}
        self.reservations_by_order: dict[str, Reservation] = {}
        self.levels: dict[str, StockLevel] = {}
        self.payments_by_order: dict[str, Payment] = {}
        self.shipments_by_order: dict[str, Shipment] = {}
        self.summaries: dict[str, OrderView] = {}
        self.timelines: dict[str, dict[str, TimelineEntry]] = {}
        self.published: list[Envelope[Any]] = []  # the outbox, in commit order
        self.commits = 0
        self.transaction_sizes: list[int] = []  # items staged by each commit (committed or not)
        self.before_commit: list[Callable[[FakeUnitOfWork], None]] = []
        self._staged: list[tuple[Check, Callable[[], None]]] = []
        self.orders = _Orders(self)
        self.reservations = _Reservations(self)
        self.stock = _Stock(self)
        self.payments = _Payments(self)
        self.shipments = _Shipments(self)
        self.views = _Views(self)
        self.outbox = _Outbox(self)

    def __enter__(self) -> FakeUnitOfWork:
        self._staged = []
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._staged = []

    def stage(self, check: Check, change: Callable[[], None]) -> None:
        self._staged.append((check, change))

    def commit(self) -> None:
        staged, self._staged = self._staged, []
        self.transaction_sizes.append(len(staged))
        while self.before_commit:
            self.before_commit.pop(0)(self)
        for check, _ in staged:
            failure = check()
            if failure is not None:
                raise failure
        for _, change in staged:
            change()
        self.commits += 1


class _Orders:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> Order | None:
        return self._uow.orders_by_id.get(order_id)

    def add(self, order: Order) -> None:
        stored = self._uow.orders_by_id
        self._uow.stage(
            lambda: AlreadyExists(order.order_id) if order.order_id in stored else None,
            lambda: stored.__setitem__(order.order_id, order),
        )

    def update(self, order: Order, *, expected_version: int) -> None:
        stored = self._uow.orders_by_id

        def check() -> Exception | None:
            current = stored.get(order.order_id)
            return (
                None
                if current is not None and current.version == expected_version
                else ConcurrentUpdate(order.order_id)
            )

        self._uow.stage(check, lambda: stored.__setitem__(order.order_id, order))


class _Reservations:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> Reservation | None:
        return self._uow.reservations_by_order.get(order_id)

    def add(self, reservation: Reservation) -> None:
        stored = self._uow.reservations_by_order
        self._uow.stage(
            lambda: AlreadyExists(reservation.order_id) if reservation.order_id in stored else None,
            lambda: stored.__setitem__(reservation.order_id, reservation),
        )

    def update(self, reservation: Reservation, *, expected_status: ReservationStatus) -> None:
        stored = self._uow.reservations_by_order

        def check() -> Exception | None:
            current = stored.get(reservation.order_id)
            return (
                None
                if current is not None and current.status is expected_status
                else AlreadyExists(reservation.order_id)
            )

        self._uow.stage(check, lambda: stored.__setitem__(reservation.order_id, reservation))


class _Stock:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        return {sku: self._uow.levels[sku] for sku in skus if sku in self._uow.levels}

    def update(self, before: Mapping[str, StockLevel], after: Mapping[str, StockLevel]) -> None:
        stored = self._uow.levels
        for sku, level in after.items():
            self._uow.stage(
                lambda sku=sku: None if stored.get(sku) == before[sku] else ConcurrentUpdate(sku),
                lambda sku=sku, level=level: stored.__setitem__(sku, level),
            )


class _Payments:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> Payment | None:
        return self._uow.payments_by_order.get(order_id)

    def add(self, payment: Payment) -> None:
        stored = self._uow.payments_by_order
        self._uow.stage(
            lambda: AlreadyExists(payment.order_id) if payment.order_id in stored else None,
            lambda: stored.__setitem__(payment.order_id, payment),
        )

    def update(self, payment: Payment, *, expected_status: PaymentStatus) -> None:
        stored = self._uow.payments_by_order

        def check() -> Exception | None:
            current = stored.get(payment.order_id)
            return (
                None if current is not None and current.status is expected_status else AlreadyExists(payment.order_id)
            )

        self._uow.stage(check, lambda: stored.__setitem__(payment.order_id, payment))


class _Shipments:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> Shipment | None:
        return self._uow.shipments_by_order.get(order_id)

    def add(self, shipment: Shipment) -> None:
        stored = self._uow.shipments_by_order
        self._uow.stage(
            lambda: AlreadyExists(shipment.order_id) if shipment.order_id in stored else None,
            lambda: stored.__setitem__(shipment.order_id, shipment),
        )


class _Views:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> tuple[OrderView | None, list[TimelineEntry]]:
        timeline = self._uow.timelines.get(order_id, {}).values()
        return self._uow.summaries.get(order_id), sorted(timeline, key=lambda entry: (entry.time, entry.sequence))

    def record(
        self, order_id: str, entry: TimelineEntry, view: OrderView | None, *, expected_sequence: int | None
    ) -> None:
        entries = self._uow.timelines.setdefault(order_id, {})
        summaries = self._uow.summaries
        self._uow.stage(
            lambda: AlreadyExists(entry.event_id) if entry.event_id in entries else None,
            lambda: entries.__setitem__(entry.event_id, entry),
        )
        if view is None:
            return

        def check() -> Exception | None:
            current = summaries.get(order_id)
            return (
                None
                if (current.last_sequence if current else None) == expected_sequence
                else ConcurrentUpdate(order_id)
            )

        self._uow.stage(check, lambda: summaries.__setitem__(order_id, view))


class _Outbox:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, *events: Envelope[Any]) -> None:
        for event in events:
            self._uow.stage(lambda: None, lambda event=event: self._uow.published.append(event))


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
