"""Use cases on in-memory fakes: assertions on stored state and on what was published."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.contracts import EventType
from orderflow.domain.errors import InvalidOrder, UnsupportedEvent
from orderflow.domain.orders import PlaceOrder
from orderflow.events.types import CancellationReason, OrderStatus
from orderflow.services.notifying import notify
from orderflow.services.ordering import OrderingService
from orderflow.services.projection import Applied, apply_event
from orderflow.services.relay import relay
from tests.support.factories import (
    order_confirmed,
    order_created,
    order_request,
    order_shipped,
    payment_received,
    product,
)
from tests.support.fakes import FakeCatalogue, FakeChannel, FakePublisher, FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def service(uow: FakeUnitOfWork) -> OrderingService:
    catalogue = FakeCatalogue([product("KB-001", price="89.00"), product("MS-002", price="24.50")])
    return OrderingService(catalogue=catalogue, uow=uow, new_id=lambda: "order-1")


def test_placing_an_order_stores_it_with_exactly_one_outbox_event(
    service: OrderingService, uow: FakeUnitOfWork
) -> None:
    accepted = service.place(PlaceOrder.model_validate(order_request()), correlation_id="corr-1")

    assert (accepted.order_id, accepted.status, accepted.total) == ("order-1", OrderStatus.PENDING, Decimal("202.50"))
    assert list(uow.orders_by_id) == ["order-1"]
    assert [(event.type, event.subject, event.correlation_id) for event in uow.published] == [
        (EventType.ORDER_CREATED, "order-1", "corr-1")
    ]


def test_an_invalid_order_writes_nothing(service: OrderingService, uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidOrder):
        service.place(
            PlaceOrder.model_validate(order_request(items=[{"sku": "GONE-1", "quantity": 1}])), correlation_id="c"
        )

    assert (uow.orders_by_id, uow.published) == ({}, [])


def test_details_come_from_the_read_model_once_projected(service: OrderingService, uow: FakeUnitOfWork) -> None:
    service.place(PlaceOrder.model_validate(order_request()), correlation_id="corr-1")
    apply_event(uow, order_created("order-1"))
    apply_event(uow, order_confirmed("order-1"))

    details = service.details("order-1")

    assert details is not None
    assert details.status is OrderStatus.CONFIRMED
    assert [item.type for item in details.timeline] == ["OrderCreated", "OrderConfirmed"]


def test_details_fall_back_to_the_stored_order_before_projection(service: OrderingService) -> None:
    service.place(PlaceOrder.model_validate(order_request()), correlation_id="corr-1")

    details = service.details("order-1")

    assert details is not None
    assert (details.status, details.timeline) == (OrderStatus.PENDING, [])


def test_an_order_cancelled_before_its_projection_shows_its_reason(
    service: OrderingService, uow: FakeUnitOfWork
) -> None:
    """The history queue can lag behind the saga: the stored order answers, reason included."""
    service.place(PlaceOrder.model_validate(order_request()), correlation_id="corr-1")
    stored = uow.orders_by_id["order-1"]
    uow.orders_by_id["order-1"] = stored.model_copy(
        update={"status": OrderStatus.CANCELLED, "reason": CancellationReason.OUT_OF_STOCK}
    )

    details = service.details("order-1")

    assert details is not None
    assert (details.status, details.reason) == (OrderStatus.CANCELLED, CancellationReason.OUT_OF_STOCK)


def test_unknown_order_has_no_details(service: OrderingService) -> None:
    assert service.details("missing") is None


def test_a_duplicate_event_changes_nothing(uow: FakeUnitOfWork) -> None:
    created = order_created()
    assert apply_event(uow, created) is Applied.APPLIED
    before = uow.views.get("order-1")

    assert apply_event(uow, created) is Applied.DUPLICATE
    assert uow.views.get("order-1") == before


def test_a_stale_event_keeps_status_but_joins_the_timeline(uow: FakeUnitOfWork) -> None:
    apply_event(uow, order_created())
    apply_event(uow, order_shipped(sequence=3))

    assert apply_event(uow, order_confirmed(sequence=2)) is Applied.STALE

    view, timeline = uow.views.get("order-1")
    assert view is not None
    assert view.status is OrderStatus.SHIPPED
    assert [entry.type for entry in timeline] == ["OrderCreated", "OrderConfirmed", "OrderShipped"]


def test_timeline_only_events_are_recorded_once(uow: FakeUnitOfWork) -> None:
    apply_event(uow, order_created())
    paid = payment_received()

    assert apply_event(uow, paid) is Applied.TIMELINE_ONLY
    assert apply_event(uow, paid) is Applied.DUPLICATE
    assert [entry.type for entry in uow.views.get("order-1")[1]] == ["OrderCreated", "PaymentReceived"]


def test_relay_publishes_to_every_router_in_order() -> None:
    sns, bus = FakePublisher(), FakePublisher()
    events = [order_created("o-1"), order_confirmed("o-1"), order_created("o-2")]

    assert relay(events, [sns, bus]) is None

    assert sns.published == bus.published == events


def test_relay_stops_at_the_first_refusal_so_nothing_overtakes_it() -> None:
    sns, bus = FakePublisher(refuse_at=2), FakePublisher(refuse_at=1)
    events = [order_created("o-1"), order_confirmed("o-1"), order_shipped("o-1")]

    refused = relay(events, [sns, bus])

    assert refused is not None
    assert refused.index == 1  # retried from the confirmation
    assert sns.published == events[:2]
    assert bus.published == events[:1]  # the bus is offered only what the topic took


def test_customer_is_notified_of_confirmation() -> None:
    channel = FakeChannel()

    notification = notify(channel, order_confirmed("order-7"))

    assert channel.sent == [notification]
    assert notification.customer_id == "customer-1"
    assert "order-7 is confirmed: 178.00 EUR" in notification.message


def test_notifier_refuses_events_it_does_not_handle() -> None:
    channel = FakeChannel()

    with pytest.raises(UnsupportedEvent, match="OrderCreated"):
        notify(channel, order_created())
    assert channel.sent == []


def test_the_same_idempotency_key_places_one_order_even_without_its_idempotency_record(
    service: OrderingService, uow: FakeUnitOfWork
) -> None:
    """The request's first attempt stored the order but its idempotency record was lost: the
    retry finds the same order instead of placing a second one."""
    command = PlaceOrder.model_validate(order_request())

    first = service.place(command, correlation_id="c-1", idempotency_key="key-1")
    again = service.place(command, correlation_id="c-2", idempotency_key="key-1")

    assert again == first
    assert len(uow.orders_by_id) == 1
    assert len(uow.published) == 1


def test_an_idempotency_key_used_for_a_different_order_is_refused(
    service: OrderingService, uow: FakeUnitOfWork
) -> None:
    service.place(PlaceOrder.model_validate(order_request()), correlation_id="c-1", idempotency_key="key-1")
    other = PlaceOrder.model_validate(order_request(items=[{"sku": "KB-001", "quantity": 5}]))

    with pytest.raises(InvalidOrder, match="Idempotency-Key"):
        service.place(other, correlation_id="c-2", idempotency_key="key-1")
    assert len(uow.orders_by_id) == 1


def test_idempotency_keys_are_scoped_to_the_customer(service: OrderingService, uow: FakeUnitOfWork) -> None:
    service.place(PlaceOrder.model_validate(order_request()), correlation_id="c-1", idempotency_key="key-1")
    someone_else = PlaceOrder.model_validate(order_request(customer_id="someone-else"))
    service.place(someone_else, correlation_id="c-2", idempotency_key="key-1")

    assert len(uow.orders_by_id) == 2
