from __future__ import annotations

from decimal import Decimal

from orderflow.domain.order_view import Outcome, project
from orderflow.events.types import CancellationReason, OrderStatus
from tests.support.factories import order_cancelled, order_confirmed, order_created, order_shipped, payment_received


def test_order_created_starts_a_pending_view_with_its_lines() -> None:
    view, outcome = project(None, order_created())

    assert outcome is Outcome.APPLIED
    assert view is not None
    assert (view.status, view.last_sequence, view.total) == (OrderStatus.PENDING, 1, Decimal("178.00"))
    assert view.items is not None
    assert view.items[0].sku == "KB-001"


def test_status_moves_forward_with_newer_events() -> None:
    view, _ = project(None, order_created())
    view, _ = project(view, order_confirmed(sequence=2))
    view, outcome = project(view, order_shipped(sequence=3))

    assert outcome is Outcome.APPLIED
    assert view is not None
    assert (view.status, view.last_sequence) == (OrderStatus.SHIPPED, 3)


def test_a_stale_event_changes_nothing() -> None:
    view, _ = project(None, order_created())
    shipped, _ = project(view, order_shipped(sequence=3))

    unchanged, outcome = project(shipped, order_confirmed(sequence=2))

    assert (unchanged, outcome) == (None, Outcome.STALE)


def test_cancellation_records_the_reason() -> None:
    view, _ = project(None, order_created())
    view, _ = project(view, order_cancelled(reason=CancellationReason.PAYMENT_DECLINED))

    assert view is not None
    assert (view.status, view.reason) == (
        OrderStatus.CANCELLED,
        CancellationReason.PAYMENT_DECLINED,
    )


def test_a_late_order_created_fills_in_the_lines_without_moving_status_back() -> None:
    confirmed, _ = project(None, order_confirmed(sequence=2))

    view, outcome = project(confirmed, order_created(sequence=1))

    assert outcome is Outcome.STALE
    assert view is not None
    assert view.status is OrderStatus.CONFIRMED
    assert view.items is not None


def test_events_that_do_not_change_status_only_join_the_timeline() -> None:
    view, _ = project(None, order_created())

    assert project(view, payment_received()) == (None, Outcome.TIMELINE_ONLY)
