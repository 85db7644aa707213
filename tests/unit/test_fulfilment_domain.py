"""Saga decisions on plain data and in-memory fakes: stock buckets, payments once, order moves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orderflow.adapters.payment_gateway import Charge
from orderflow.domain import inventory
from orderflow.domain.errors import (
    InvalidTransition,
    OutOfStock,
    PaymentDeclined,
    PaymentGatewayError,
    PaymentVoided,
    SagaUndecided,
)
from orderflow.domain.inventory import StockLevel
from orderflow.domain.orders import Order, move
from orderflow.domain.payments import Payment, PaymentStatus
from orderflow.events.models import OrderLine, ProcessPayment, ProcessPaymentData, StockLine
from orderflow.events.types import CancellationReason, Currency, OrderStatus
from orderflow.services.payments import PaymentService
from tests.support.fakes import FakeUnitOfWork

LEVELS = {"A": StockLevel(sku="A", available=5), "B": StockLevel(sku="B", available=1, reserved=2, sold=3)}


def _total(level: StockLevel) -> int:
    return level.available + level.reserved + level.sold


def test_reserving_moves_units_from_available_to_reserved() -> None:
    after = inventory.reserve(LEVELS, [StockLine(sku="A", quantity=2), StockLine(sku="B", quantity=1)])

    assert (after["A"].available, after["A"].reserved) == (3, 2)
    assert (after["B"].available, after["B"].reserved) == (0, 3)
    assert all(_total(after[sku]) == _total(LEVELS[sku]) for sku in after)


def test_a_line_that_does_not_fit_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="B: 2 requested, 1 available"):
        inventory.reserve(LEVELS, [StockLine(sku="A", quantity=1), StockLine(sku="B", quantity=2)])


def test_an_unknown_sku_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="Z: 1 requested, 0 available"):
        inventory.reserve(LEVELS, [StockLine(sku="Z", quantity=1)])


def test_release_and_commit_conserve_every_unit() -> None:
    lines = [StockLine(sku="A", quantity=2)]
    reserved = inventory.reserve(LEVELS, lines)

    released = inventory.release(reserved, lines)
    sold = inventory.commit(reserved, lines)

    assert released["A"] == LEVELS["A"]
    assert (sold["A"].available, sold["A"].reserved, sold["A"].sold) == (3, 0, 2)


def _order(status: OrderStatus = OrderStatus.PENDING) -> Order:
    return Order(
        order_id="o-1",
        customer_id="c-1",
        items=[OrderLine(sku="A", name="a", quantity=1, unit_price=Decimal("1.00"))],
        total=Decimal("1.00"),
        currency=Currency.EUR,
        status=status,
        version=1,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        correlation_id="corr",
    )


def test_a_pending_order_moves_to_its_next_version() -> None:
    cancelled = move(_order(), OrderStatus.CANCELLED, CancellationReason.OUT_OF_STOCK)

    assert cancelled is not None
    assert (cancelled.status, cancelled.reason, cancelled.version) == (
        OrderStatus.CANCELLED,
        CancellationReason.OUT_OF_STOCK,
        2,
    )


def test_moving_to_the_status_it_has_is_a_no_op() -> None:
    assert move(_order(OrderStatus.CONFIRMED), OrderStatus.CONFIRMED) is None


def test_a_confirmed_order_cannot_be_cancelled_but_can_need_attention() -> None:
    with pytest.raises(InvalidTransition):
        move(_order(OrderStatus.CONFIRMED), OrderStatus.CANCELLED)
    assert move(_order(OrderStatus.CONFIRMED), OrderStatus.NEEDS_ATTENTION) is not None


class FakeGateway:
    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes
        self.charges: list[str] = []
        self.refunds: list[str] = []

    def charge(self, *, idempotency_key: str, reference: str, amount: Decimal, currency: str, token: str) -> Charge:
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        self.charges.append(idempotency_key)
        return Charge(payment_id="pay-1", amount=amount, currency=currency)

    def refund(self, *, payment_id: str, idempotency_key: str) -> None:
        self.refunds.append(payment_id)

    def find(self, *, idempotency_key: str) -> Charge | None:
        if idempotency_key not in self.charges or "pay-1" in self.refunds:
            return None
        return Charge(payment_id="pay-1", amount=Decimal("9.90"), currency="EUR")


def _command() -> ProcessPayment:
    return ProcessPayment.new(
        source="orderflow.saga",  # type: ignore[arg-type]
        subject="o-1",
        correlation_id="corr",
        sequence=1,
        data=ProcessPaymentData(amount=Decimal("9.90"), currency=Currency.EUR, payment_token="tok", task_token="t"),
    )


def test_a_repeated_command_charges_once() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([None, None])
    service = PaymentService(uow, gateway)

    first, again = service.process(_command()), service.process(_command())

    assert first == again
    assert gateway.charges == ["o-1"]
    assert [event.type for event in uow.published] == ["PaymentReceived"]


def test_a_decline_is_recorded_and_repeated_without_calling_the_gateway_again() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([PaymentDeclined("card_declined")])
    service = PaymentService(uow, gateway)

    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            service.process(_command())

    assert uow.payments_by_order["o-1"].status is PaymentStatus.DECLINED
    assert [event.type for event in uow.published] == ["PaymentDeclined"]


def test_a_transient_gateway_error_records_nothing_so_a_retry_can_pay() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([PaymentGatewayError("timeout"), None])
    service = PaymentService(uow, gateway)

    with pytest.raises(PaymentGatewayError):
        service.process(_command())
    assert uow.payments_by_order == {}

    assert service.process(_command()).status is PaymentStatus.PAID


def test_refund_returns_a_paid_order_once_and_ignores_an_unpaid_one() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    service.process(_command())

    service.refund("o-1", correlation_id="corr", causation_id="c")
    service.refund("o-1", correlation_id="corr", causation_id="c")

    assert gateway.refunds == ["pay-1"]
    assert uow.payments_by_order["o-1"].status is PaymentStatus.REFUNDED
    assert service.refund("never-paid", correlation_id="corr", causation_id="c") is None


def test_saga_error_names_match_the_exceptions_the_functions_raise() -> None:
    from orderflow.contracts import SagaError
    from orderflow.domain import errors

    for name in (SagaError.OUT_OF_STOCK, SagaError.PAYMENT_DECLINED, SagaError.PAYMENT_GATEWAY):
        assert getattr(errors, name).__name__ == name  # Step Functions matches the class name
    assert errors.ConcurrentUpdate.__name__ == SagaError.CONCURRENT_UPDATE
    assert errors.Contention.__name__ == SagaError.CONTENTION


def test_a_late_answer_for_a_confirmed_order_keeps_the_charge() -> None:
    """A redelivered command whose task an earlier delivery answered: the saga has its payment."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    service.process(_command())

    assert service.settle_unanswered(_command(), OrderStatus.CONFIRMED) == "PaymentsAlreadyAnswered"
    assert gateway.refunds == []
    assert uow.payments_by_order["o-1"].status is PaymentStatus.PAID


def test_a_late_answer_for_a_cancelled_order_is_refunded() -> None:
    """The saga gave up waiting and compensated, maybe before this charge existed."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    service.process(_command())

    assert service.settle_unanswered(_command(), OrderStatus.CANCELLED) == "PaymentsRefundedLate"
    assert gateway.refunds == ["pay-1"]


def test_a_late_answer_for_an_order_not_yet_settled_is_tried_again_later() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    service.process(_command())

    with pytest.raises(SagaUndecided):
        service.settle_unanswered(_command(), OrderStatus.PENDING)
    assert gateway.refunds == []


def test_a_charge_that_was_never_recorded_is_refunded_by_the_compensation() -> None:
    """The gateway charged, recording the payment failed, and the saga was then answered
    otherwise: the refund finds the charge at the provider."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    gateway.charge(idempotency_key="o-1", reference="o-1", amount=Decimal("9.90"), currency="EUR", token="tok")

    refunded = service.refund("o-1", correlation_id="corr", causation_id="c")

    assert gateway.refunds == ["pay-1"]
    assert refunded is not None
    assert refunded.status is PaymentStatus.REFUNDED
    assert [event.type for event in uow.published] == ["PaymentRefunded"]
    assert service.refund("o-1", correlation_id="corr", causation_id="c") == refunded


def test_a_compensation_that_finds_no_charge_voids_the_payment() -> None:
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)

    assert service.refund("o-1", correlation_id="corr", causation_id="c") is None

    assert uow.payments_by_order["o-1"].status is PaymentStatus.VOIDED
    with pytest.raises(PaymentVoided):
        service.process(_command())
    assert gateway.charges == []


def test_a_charge_that_lands_after_the_compensation_is_refunded_at_once() -> None:
    """The command's attempt timed out with its charge on the way; the deadline had passed, so
    the saga compensated and found nothing to refund. The charge then lands: it is given back,
    not kept for an order that is cancelled."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)

    def compensating_meanwhile(**request: Any) -> Charge:
        service.refund("o-1", correlation_id="corr", causation_id="c")  # runs while the charge is made
        return gateway.charge(**request)

    late = PaymentService(uow, gateway, compensating_meanwhile)
    with pytest.raises(PaymentVoided):
        late.process(_command())

    assert gateway.charges == ["o-1"]
    assert gateway.refunds == ["pay-1"]
    assert uow.payments_by_order["o-1"].status is PaymentStatus.REFUNDED
    assert [event.type for event in uow.published] == ["PaymentRefunded"]


def test_a_charge_whose_answer_was_lost_after_the_void_is_given_back_by_the_next_delivery() -> None:
    """The charge landed after the compensation voided the payment, and its answer was lost:
    nothing was recorded. The command's next delivery, no longer awaited, finds the void and
    refunds what the provider holds."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    service.refund("o-1", correlation_id="corr", causation_id="c")  # voided: nothing charged yet
    gateway.charge(idempotency_key="o-1", reference="o-1", amount=Decimal("9.90"), currency="EUR", token="tok")

    assert service.settle_abandoned(_command())

    assert gateway.refunds == ["pay-1"]
    assert uow.payments_by_order["o-1"].status is PaymentStatus.REFUNDED
    assert not service.settle_abandoned(_command())  # refunded: nothing more to do


def test_a_refund_that_meets_the_charge_being_recorded_says_refunded() -> None:
    """The compensation found the charge at the provider and refunded it while the payments
    function recorded it as paid: the record ends refunded, with its event."""
    uow, gateway = FakeUnitOfWork(), FakeGateway([None])
    service = PaymentService(uow, gateway)
    gateway.charge(idempotency_key="o-1", reference="o-1", amount=Decimal("9.90"), currency="EUR", token="tok")
    real_refund = gateway.refund

    def recorded_meanwhile(**request: Any) -> None:
        uow.payments_by_order["o-1"] = Payment(
            order_id="o-1", status=PaymentStatus.PAID, amount=Decimal("9.90"), currency="EUR", payment_id="pay-1"
        )
        real_refund(**request)

    gateway.refund = recorded_meanwhile  # type: ignore[method-assign]

    refunded = service.refund("o-1", correlation_id="corr", causation_id="c")

    assert refunded is not None
    assert refunded.status is PaymentStatus.REFUNDED
    assert uow.payments_by_order["o-1"].status is PaymentStatus.REFUNDED
    assert [event.type for event in uow.published] == ["PaymentRefunded"]
