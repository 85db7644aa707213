"""Each invariant of the soak's checker, shown to catch exactly its violation: planted in a copy of
what the small soak gathered (which holds none), then checked."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from localcloud.soak import checker
from localcloud.soak.load import LIMITED_SKU
from orderflow.adapters.payment_gateway import CHARGE, CHARGED, LedgerEntry
from orderflow.contracts import EventSource, EventType
from orderflow.domain.order_view import TimelineEntry
from orderflow.events.models import SystemAlert, SystemAlertData
from orderflow.events.types import CancellationReason, OrderStatus


@pytest.fixture
def planted(evidence: checker.Evidence) -> checker.Evidence:
    assert checker.check(evidence).violations == []
    return copy.deepcopy(evidence)


def _one(evidence: checker.Evidence, test: Callable[[checker.OrderEvidence], bool]) -> checker.OrderEvidence:
    return next(order for _, order in sorted(evidence.orders.items()) if test(order))


def _shipped(evidence: checker.Evidence) -> checker.OrderEvidence:
    return _one(evidence, lambda o: checker.shipped(o) and not o.placed.planned.limited)


def _cancelled(evidence: checker.Evidence, reason: CancellationReason) -> checker.OrderEvidence:
    return _one(evidence, lambda o: o.order is not None and o.order.reason is reason)


def _charge(order: checker.OrderEvidence, amount: Decimal) -> LedgerEntry:
    return LedgerEntry(
        at="99999999999999999999-planted",
        operation=CHARGE,
        idempotency_key=f"{order.order_id}-again",
        charge_key=f"{order.order_id}-again",
        reference=order.order_id,
        outcome=CHARGED,
        moved=amount,
        currency="EUR",
        payment_id="pay_planted",
    )


def _violations(evidence: checker.Evidence) -> list[str]:
    return checker.check(evidence).violations


# --- money -------------------------------------------------------------------------------------


def test_a_cancelled_order_that_kept_its_charge(planted: checker.Evidence) -> None:
    victim = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert victim.order is not None
    victim.ledger.append(_charge(victim, victim.order.total))

    assert _violations(planted) == [
        f"{victim.order_id}: the provider holds {victim.order.total} for it, {checker.outcome(victim.order)} owes 0"
    ]


def test_a_shipped_order_without_a_charge_and_a_cancelled_one_with_one_do_not_cancel_out(
    planted: checker.Evidence,
) -> None:
    shipped = _shipped(planted)
    declined = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert shipped.order is not None
    declined.ledger.append(_charge(declined, shipped.order.total))
    shipped.ledger.clear()

    violations = _violations(planted)

    assert any(v.startswith(f"{shipped.order_id}: the provider holds 0 for it") for v in violations)
    assert any(v.startswith(f"{declined.order_id}: the provider holds") for v in violations)


def test_an_order_charged_twice_over(planted: checker.Evidence) -> None:
    """Two charges of half the total net to the total: only the count of charges shows it."""
    victim = _shipped(planted)
    assert victim.order is not None
    half = victim.order.total / 2
    victim.ledger = [_charge(victim, half), replace(_charge(victim, half), payment_id="pay_other")]

    assert _violations(planted) == [f"{victim.order_id}: 2 net charges at the provider"]


# --- stock -------------------------------------------------------------------------------------


def test_available_stock_below_zero(planted: checker.Evidence) -> None:
    planted.lowest_available[LIMITED_SKU] = -1

    assert _violations(planted) == [f"{LIMITED_SKU}: available went down to -1"]


def test_a_stored_level_below_zero(planted: checker.Evidence) -> None:
    planted.stock_after[LIMITED_SKU] = "invalid stock level: available below zero"

    assert _violations(planted) == [f"{LIMITED_SKU}: invalid stock level: available below zero"]


def test_units_sold_that_no_shipped_order_holds(planted: checker.Evidence) -> None:
    level = planted.stock_after["MS-002"]
    assert not isinstance(level, str)
    planted.stock_after["MS-002"] = level.model_copy(update={"available": level.available - 1, "sold": level.sold + 1})

    assert _violations(planted) == [
        f"MS-002: sold {level.sold + 1 - planted.stock_before['MS-002'].sold}, "
        f"the shipped orders hold {level.sold - planted.stock_before['MS-002'].sold}"
    ]


def test_stock_not_conserved(planted: checker.Evidence) -> None:
    level = planted.stock_after["MS-002"]
    assert not isinstance(level, str)
    planted.stock_after["MS-002"] = level.model_copy(update={"available": level.available + 1})

    assert [v.split(" ", 4)[:4] for v in _violations(planted)] == [["MS-002:", "stock", "not", "conserved"]]


def test_stock_left_reserved_by_a_cancelled_order(planted: checker.Evidence) -> None:
    victim = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert victim.order is not None
    victim.reservation_held = True

    violations = _violations(planted)

    assert violations[0] == f"{victim.order_id}: {checker.outcome(victim.order)}, its stock still reserved"
    assert any(v.startswith("MS-002: ") and "reserved" in v for v in violations[1:])


def test_a_run_where_the_limited_product_never_sold_out(planted: checker.Evidence) -> None:
    for order in planted.orders.values():
        order.events = [event for event in order.events if event.type != EventType.ORDER_CANCELLED]

    assert f"{LIMITED_SKU}: never sold out, so overselling could not show" in _violations(planted)


# --- side effects ------------------------------------------------------------------------------


def test_a_shipped_order_with_no_shipment(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    victim.shipment = None

    assert _violations(planted) == [f"{victim.order_id}: shipped True, with no shipment"]


def test_a_notification_sent_twice(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    victim.notifications.append(victim.notifications[0])
    sent = len(victim.notifications)

    assert _violations(planted) == [f"{victim.order_id}: {sent} notifications for {sent - 1} customer-facing events"]


# --- lifecycle ---------------------------------------------------------------------------------


def test_an_accepted_order_never_stored(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    victim.order = None

    assert f"{victim.order_id}: accepted but not stored" in _violations(planted)


def test_an_order_left_pending(planted: checker.Evidence) -> None:
    victim = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert victim.order is not None
    victim.order = victim.order.model_copy(update={"status": OrderStatus.PENDING, "reason": None})

    assert f"{victim.order_id}: not terminal (PENDING)" in _violations(planted)


def test_a_good_order_cancelled_for_a_reason_it_did_not_give(planted: checker.Evidence) -> None:
    """A good card on stock that is there must not end OUT_OF_STOCK (what a transaction
    conflict mistaken for a failed stock condition would do)."""
    victim = _one(
        planted, lambda o: o.placed.planned.kind == "tok_ok" and checker.shipped(o) and not o.placed.planned.limited
    )
    assert victim.order is not None
    victim.order = victim.order.model_copy(
        update={"status": OrderStatus.CANCELLED, "reason": CancellationReason.OUT_OF_STOCK}
    )

    assert any(
        v.startswith(f"{victim.order_id}: placed as tok_ok, ended CANCELLED (OUT_OF_STOCK)")
        for v in _violations(planted)
    )


def test_an_order_given_up_on_before_its_payment_deadline(planted: checker.Evidence) -> None:
    victim = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert victim.order is not None
    victim.order = victim.order.model_copy(update={"reason": CancellationReason.PAYMENT_UNAVAILABLE})
    cancelled = next(event.time for event in victim.events if event.type == EventType.ORDER_CANCELLED)

    victim.payment_deadline = cancelled - timedelta(seconds=1)
    assert _violations(planted) == []
    victim.payment_deadline = cancelled + timedelta(seconds=30)
    assert _violations(planted) == [
        f"{victim.order_id}: cancelled PAYMENT_UNAVAILABLE 30 s before its payment deadline"
    ]


def test_a_saga_execution_that_disagrees_with_its_order(planted: checker.Evidence) -> None:
    shipped, declined = _shipped(planted), _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    shipped.executions = ["FAILED"]
    declined.executions = ["SUCCEEDED", "SUCCEEDED"]

    assert sorted(_violations(planted)) == sorted(
        [
            f"{shipped.order_id}: the order is CONFIRMED, its saga execution FAILED",
            f"{declined.order_id}: 2 saga executions",
        ]
    )


def test_a_saga_execution_for_no_accepted_order(planted: checker.Evidence) -> None:
    planted.stray_executions.append("o-unknown (SUCCEEDED)")

    assert _violations(planted) == ["saga execution o-unknown (SUCCEEDED): no accepted order"]


def test_the_read_model_showing_another_status(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    assert victim.view is not None
    victim.view = victim.view.model_copy(update={"status": OrderStatus.PENDING})

    assert _violations(planted) == [f"{victim.order_id}: the read model shows PENDING, the order is SHIPPED"]


def test_needs_attention_is_a_finding_with_an_injected_cause_and_a_violation_without(
    planted: checker.Evidence,
) -> None:
    victim = _cancelled(planted, CancellationReason.PAYMENT_DECLINED)
    assert victim.order is not None
    victim.order = victim.order.model_copy(update={"status": OrderStatus.NEEDS_ATTENTION, "reason": None})
    victim.executions = ["FAILED"]
    victim.view = victim.view.model_copy(update={"status": OrderStatus.NEEDS_ATTENTION}) if victim.view else None

    verdict = checker.check(planted)

    assert verdict.violations == [f"{victim.order_id}: NEEDS_ATTENTION with no injected cause: no alert"]
    assert verdict.attention == []

    cause = "ServiceUnavailable: inventory store unreachable (injected fault)"
    alert = SystemAlert.new(
        source=EventSource.SAGA,
        subject=victim.order_id,
        correlation_id="corr",
        sequence=9,
        data=SystemAlertData(alarm="compensation failed", state="ALARM", reason=cause),
    )
    victim.events.append(alert)
    victim.timeline.append(TimelineEntry.model_validate({**victim.timeline[-1].model_dump(), "event_id": alert.id}))

    verdict = checker.check(planted)

    assert verdict.violations == []
    assert verdict.attention == [checker.Finding(victim.order_id, cause)]


# --- messages ----------------------------------------------------------------------------------


def test_an_event_the_history_never_applied(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    victim.timeline.pop()

    assert _violations(planted) == [
        f"{victim.order_id}: history applied {len(victim.timeline)} events of {len(victim.timeline) + 1} published"
    ]


def test_an_event_published_twice(planted: checker.Evidence) -> None:
    victim = _shipped(planted)
    confirmed = next(event for event in victim.events if event.type == EventType.ORDER_CONFIRMED)
    victim.events.append(confirmed.model_copy(update={"id": "evt-planted"}))

    assert f"{victim.order_id}: 2 OrderConfirmed events" in _violations(planted)


def test_a_message_left_in_a_dead_letter_queue(planted: checker.Evidence) -> None:
    planted.dead_letters.append("payments-dlq.fifo: ProcessPayment o-1 left after redrive: planted")

    assert _violations(planted) == ["payments-dlq.fifo: ProcessPayment o-1 left after redrive: planted"]
