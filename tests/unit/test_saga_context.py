"""The saga's input: the order as OrderCreated announced it, and its payment deadline in the
form Step Functions compares timestamps in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
    timestamp_operators,
)

from localcloud import moto_fixes
from orderflow.domain.saga import SagaContext
from tests.support.factories import order_created


def test_the_payment_deadline_is_the_orders_creation_plus_the_setting_in_utc() -> None:
    created = order_created("order-1").model_copy(
        update={"time": datetime(2026, 12, 2, 17, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))}
    )

    saga = SagaContext.from_event(created, payment_deadline=timedelta(minutes=10), now=created.time)

    assert saga.payment_deadline == "2026-12-02T16:10:00.123Z"


def test_a_saga_started_late_gets_the_whole_deadline_from_its_start() -> None:
    """A start redriven from its DLQ an hour later: not a deadline already passed."""
    created = order_created("order-1").model_copy(update={"time": datetime(2026, 12, 2, 16, 0, tzinfo=UTC)})

    saga = SagaContext.from_event(
        created, payment_deadline=timedelta(minutes=10), now=datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    )

    assert saga.payment_deadline == "2026-12-02T17:10:00.000Z"


def test_a_saga_input_from_before_deadlines_still_reads() -> None:
    """Executions started before the deadline existed keep running through the new code."""
    state = SagaContext.from_event(order_created("order-1"), payment_deadline=timedelta(minutes=10)).model_dump()
    del state["payment_deadline"]

    assert SagaContext.model_validate(state).payment_deadline is None


def test_the_deadline_compares_with_step_functions_clock() -> None:
    moto_fixes.rfc3339_timestamps_in_choices()
    now = datetime.now(UTC)
    created = order_created("order-1").model_copy(update={"time": now})
    saga = SagaContext.from_event(created, payment_deadline=timedelta(seconds=60))

    assert not timestamp_operators.TimestampGreaterThanEquals._compare(now.isoformat(), saga.payment_deadline)
    assert timestamp_operators.TimestampGreaterThanEquals._compare(
        (now + timedelta(minutes=2)).isoformat(), saga.payment_deadline
    )
