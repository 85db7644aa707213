"""The unit of work on DynamoDB: every repository stages into one transaction, `commit()` sends
it (see `orderflow.adapters.transaction` for how each answer is read)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from orderflow.adapters.dynamodb import dynamodb_client
from orderflow.adapters.inventory import DynamoDbReservations, DynamoDbStock
from orderflow.adapters.order_views import DynamoDbOrderViews
from orderflow.adapters.orders import DynamoDbOrders
from orderflow.adapters.outbox import DynamoDbOutbox
from orderflow.adapters.payments import DynamoDbPayments
from orderflow.adapters.shipments import DynamoDbShipments
from orderflow.adapters.transaction import Transaction
from orderflow.services.unit_of_work import Orders, OrderViews, Outbox, Payments, Reservations, Shipments, Stock


@dataclass(frozen=True, kw_only=True)
class StoreTables:
    """The tables a function's unit of work writes (those its role is granted); a repository
    whose table is not given is not there, and using it fails at once."""

    orders: str | None = None
    outbox: str | None = None
    catalogue: str | None = None
    reservations: str | None = None
    payments: str | None = None
    shipments: str | None = None
    order_views: str | None = None
    outbox_retention: timedelta = timedelta(days=7)

    @classmethod
    def of(cls, settings: Any) -> StoreTables:
        """From a function's settings model: each `<name>_table` it has."""
        names = {field.name: getattr(settings, f"{field.name}_table", None) for field in fields(cls)}
        names.pop("outbox_retention")
        days = getattr(settings, "outbox_retention_days", 7)
        return cls(**names, outbox_retention=timedelta(days=days))


class _NotDeployed:
    """Stands for a repository whose table this function does not have."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise RuntimeError(f"this function has no {self._name} table (its settings do not name one)")


R = TypeVar("R")


def _repository(table: str | None, name: str, build: Callable[[str], R]) -> R:
    return build(table) if table else cast(R, _NotDeployed(name))


class DynamoDbUnitOfWork:
    def __init__(self, tables: StoreTables, client: Any | None = None) -> None:
        client = dynamodb_client(client)
        self._transaction = transaction = Transaction(client)
        self.orders: Orders = _repository(tables.orders, "orders", lambda t: DynamoDbOrders(t, transaction, client))
        self.stock: Stock = _repository(tables.catalogue, "catalogue", lambda t: DynamoDbStock(t, transaction, client))
        self.reservations: Reservations = _repository(
            tables.reservations, "reservations", lambda t: DynamoDbReservations(t, transaction, client)
        )
        self.payments: Payments = _repository(
            tables.payments, "payments", lambda t: DynamoDbPayments(t, transaction, client)
        )
        self.shipments: Shipments = _repository(
            tables.shipments, "shipments", lambda t: DynamoDbShipments(t, transaction, client)
        )
        self.views: OrderViews = _repository(
            tables.order_views, "order views", lambda t: DynamoDbOrderViews(t, transaction, client)
        )
        self.outbox: Outbox = _repository(
            tables.outbox, "outbox", lambda t: DynamoDbOutbox(t, transaction, retention=tables.outbox_retention)
        )

    def __enter__(self) -> Self:
        self._transaction.discard()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._transaction.discard()  # what was not committed is dropped

    def commit(self) -> None:
        self._transaction.commit()


def unit_of_work(settings: Any) -> DynamoDbUnitOfWork:
    """The unit of work on the tables a function's settings name (its composition root)."""
    return DynamoDbUnitOfWork(StoreTables.of(settings))
