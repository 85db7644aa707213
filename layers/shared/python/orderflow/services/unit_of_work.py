"""The unit of work: the one way services change stored state.

A use case reads through the repositories, decides in the domain, stages every change through
the repositories (and the events announcing them through the outbox), then commits once:

    with uow:
        order = uow.orders.get(order_id)
        new = move(order, OrderStatus.CANCELLED, reason)
        uow.orders.update(new, expected_version=order.version)
        uow.outbox.add(cancelled)
        uow.commit()

Everything staged is written together or not at all. A staged write carries a condition (the
version read, the status a step expects, a record not yet there); when it fails, `commit()`
raises that repository's domain outcome: `AlreadyExists` (the step ran before), or
`ConcurrentUpdate` (something read has changed: read again and decide again, see
`retry_on_conflict`). Leaving the `with` block without committing drops what was staged.
(cosmicpython, `src/allocation/service_layer/unit_of_work.py`.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from orderflow.domain.errors import ConcurrentUpdate
from orderflow.domain.inventory import Reservation, ReservationStatus, StockLevel
from orderflow.domain.order_view import OrderView, TimelineEntry
from orderflow.domain.orders import Order
from orderflow.domain.payments import Payment, PaymentStatus
from orderflow.domain.shipping import Shipment
from orderflow.events import Envelope


class Orders(Protocol):
    def get(self, order_id: str) -> Order | None: ...

    def add(self, order: Order) -> None:
        """A new order (`AlreadyExists` when its id is taken)."""
        ...

    def update(self, order: Order, *, expected_version: int) -> None:
        """The order at its next version (`ConcurrentUpdate` when no longer at `expected_version`)."""
        ...


class Reservations(Protocol):
    def get(self, order_id: str) -> Reservation | None: ...

    def add(self, reservation: Reservation) -> None:
        """`AlreadyExists` when the order has a reservation (the step ran before)."""
        ...

    def update(self, reservation: Reservation, *, expected_status: ReservationStatus) -> None:
        """`AlreadyExists` when the reservation is no longer in `expected_status` (settled before)."""
        ...


class Stock(Protocol):
    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]: ...

    def update(self, before: Mapping[str, StockLevel], after: Mapping[str, StockLevel]) -> None:
        """The levels `after`, if they still hold `before` (`ConcurrentUpdate` otherwise)."""
        ...


class Payments(Protocol):
    def get(self, order_id: str) -> Payment | None: ...

    def add(self, payment: Payment) -> None:
        """`AlreadyExists` when the order has a payment record."""
        ...

    def update(self, payment: Payment, *, expected_status: PaymentStatus) -> None:
        """`AlreadyExists` when the payment is no longer in `expected_status`."""
        ...


class Shipments(Protocol):
    def get(self, order_id: str) -> Shipment | None: ...

    def add(self, shipment: Shipment) -> None:
        """`AlreadyExists` when the order has a shipment."""
        ...


class OrderViews(Protocol):
    def get(self, order_id: str) -> tuple[OrderView | None, list[TimelineEntry]]: ...

    def record(
        self, order_id: str, entry: TimelineEntry, view: OrderView | None, *, expected_sequence: int | None
    ) -> None:
        """The timeline entry and, when given, the new summary. `AlreadyExists` when the entry
        was recorded before (a duplicate event); `ConcurrentUpdate` when the summary is no
        longer at `expected_sequence`."""
        ...


class Outbox(Protocol):
    def add(self, *events: Envelope[Any]) -> None:
        """Events to publish once the transaction is committed (the relay reads them)."""
        ...


class UnitOfWork(Protocol):
    orders: Orders
    reservations: Reservations
    stock: Stock
    payments: Payments
    shipments: Shipments
    views: OrderViews
    outbox: Outbox

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Write everything staged, atomically; raise the first failed condition's outcome
        (nothing written). Contention (conflicts, throttling) is retried inside, and ends in
        `Contention` only when it lasts."""
        ...


T = TypeVar("T")
ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 0.5


def retry_on_conflict(
    use_case: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    also: tuple[type[Exception], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> T:
    """Run a read-decide-write use case again while what it read changes under it
    (`ConcurrentUpdate`, and the outcomes in `also`): each run reads afresh, so the decision
    is made on current state. Between runs a jittered, growing pause (full jitter) lets the
    writer that won finish, so competing use cases spread out instead of meeting again. The last
    attempt's outcome is the answer."""
    retried: tuple[type[Exception], ...] = (ConcurrentUpdate, *also)
    for attempt in range(attempts - 1):
        try:
            return use_case()
        except retried:
            sleep(jitter(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
    return use_case()
