"""Payments: charge for an order once, answer the saga, refund as a compensation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.payment_gateway import Charge, PaymentGateway
from orderflow.contracts import EventSource, Metric
from orderflow.domain.errors import PaymentDeclined, PaymentVoided, SagaUndecided
from orderflow.domain.payments import Payment, PaymentStatus
from orderflow.events import Envelope
from orderflow.events.models import PaymentDeclined as PaymentDeclinedEvent
from orderflow.events.models import (
    PaymentDeclinedData,
    PaymentReceived,
    PaymentReceivedData,
    PaymentRefunded,
    PaymentRefundedData,
    ProcessPayment,
)
from orderflow.events.types import Currency, OrderStatus
from orderflow.services.unit_of_work import UnitOfWork

Charger = Callable[..., Charge]  # the gateway's charge, possibly behind a circuit breaker
PAID_VERSION, FINAL_VERSION = 1, 2


class PaymentService:
    def __init__(self, uow: UnitOfWork, gateway: PaymentGateway, charge: Charger | None = None) -> None:
        self._uow = uow
        self._gateway = gateway
        self._charge = charge or gateway.charge

    def process(self, command: ProcessPayment) -> Payment:
        """Charge once per order. A repeated command answers with the first outcome:
        the same payment, or `PaymentDeclined` again. Transient gateway errors and an open
        circuit propagate (nothing recorded) for the caller to report."""
        order_id, data = command.subject, command.data
        existing = self._uow.payments.get(order_id)
        if existing is not None:
            if existing.status is PaymentStatus.DECLINED:
                raise PaymentDeclined(existing.reason or "declined")
            if existing.status is PaymentStatus.VOIDED:
                # A charge of an earlier delivery may have landed after the void: give it back.
                self.refund(order_id, correlation_id=command.correlation_id, causation_id=command.id)
                raise PaymentVoided(f"order {order_id}: its payment was voided by the saga's compensation")
            return existing
        try:
            charge = self._charge(
                idempotency_key=order_id,
                reference=order_id,
                amount=data.amount,
                currency=str(data.currency),
                token=data.payment_token,
            )
        except PaymentDeclined as declined:
            payment = Payment(
                order_id=order_id,
                status=PaymentStatus.DECLINED,
                amount=data.amount,
                currency=data.currency,
                reason=str(declined),
            )
            declined_event = PaymentDeclinedEvent.new(
                source=EventSource.PAYMENTS,
                subject=order_id,
                correlation_id=command.correlation_id,
                causation_id=command.id,
                sequence=PAID_VERSION,
                data=PaymentDeclinedData(amount=data.amount, currency=data.currency, reason=str(declined)),
            )
            self._save(payment, declined_event, previous=None)
            raise
        payment = _paid(order_id, charge)
        event = PaymentReceived.new(
            source=EventSource.PAYMENTS,
            subject=order_id,
            correlation_id=command.correlation_id,
            causation_id=command.id,
            sequence=PAID_VERSION,
            data=PaymentReceivedData(
                payment_id=charge.payment_id, amount=charge.amount, currency=Currency(charge.currency)
            ),
        )
        saved = self._save(payment, event, previous=None)
        if saved.status is PaymentStatus.VOIDED:
            # The compensation ran while this charge was on its way: give the money back now.
            self._refund(
                payment, previous=PaymentStatus.VOIDED, correlation_id=command.correlation_id, causation_id=command.id
            )
            raise PaymentVoided(f"order {order_id}: charged after its payment was voided, and refunded")
        return saved

    def refund(self, order_id: str, *, correlation_id: str, causation_id: str) -> Payment | None:
        """Refund a paid order in full; nothing to do when it is refunded already. Unless the
        payment record says paid or refunded, the provider is asked too: a charge whose
        recording failed, or whose answer was lost, is refunded all the same. With no charge
        anywhere, the payment is voided, so a charge still on its way (a command whose attempt
        timed out) is refunded as soon as it lands instead of being kept."""
        causes = {"correlation_id": correlation_id, "causation_id": causation_id}
        for _ in range(2):  # a charge recorded between the look and the void: look again
            stored = self._uow.payments.get(order_id)
            if stored is not None and stored.status is PaymentStatus.PAID and stored.payment_id is not None:
                return self._refund(stored, previous=PaymentStatus.PAID, **causes)
            if stored is not None and stored.status is not PaymentStatus.VOIDED:
                return stored  # refunded already, or declined (the provider fixed the key's decline)
            charge = self._gateway.find(idempotency_key=order_id)
            if charge is not None:
                return self._refund(_paid(order_id, charge), previous=stored.status if stored else None, **causes)
            if stored is not None:
                return stored  # voided, and nothing held at the provider
            try:
                with self._uow as uow:
                    uow.payments.add(_voided(order_id))
                    uow.commit()
            except AlreadyExists:
                continue
            return None
        raise SagaUndecided(f"order {order_id}: its payment changed twice while being refunded")

    def settle_abandoned(self, command: ProcessPayment) -> bool:
        """A command the saga no longer awaits. If the saga has voided the payment (it
        compensated), give back anything the provider still holds for the order: a charge of
        an earlier delivery that landed, or whose answer was lost, after the void. True when
        it was voided (provider errors propagate, so the command is tried again)."""
        stored = self._uow.payments.get(command.subject)
        if stored is None or stored.status is not PaymentStatus.VOIDED:
            return False
        self.refund(command.subject, correlation_id=command.correlation_id, causation_id=command.id)
        return True

    def _refund(
        self, payment: Payment, *, previous: PaymentStatus | None, correlation_id: str, causation_id: str
    ) -> Payment:
        assert payment.payment_id is not None
        self._gateway.refund(payment_id=payment.payment_id, idempotency_key=f"{payment.order_id}/refund")
        refunded = payment.model_copy(update={"status": PaymentStatus.REFUNDED})
        event = PaymentRefunded.new(
            source=EventSource.PAYMENTS,
            subject=payment.order_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            sequence=FINAL_VERSION,
            data=PaymentRefundedData(
                payment_id=payment.payment_id, amount=payment.amount, currency=Currency(payment.currency)
            ),
        )
        saved = self._save(refunded, event, previous=previous)
        if saved.status is PaymentStatus.PAID and previous is not PaymentStatus.PAID:
            # The charge was recorded as paid meanwhile: the money is back, so say so.
            saved = self._save(refunded, event, previous=PaymentStatus.PAID)
        return saved

    def settle_unanswered(self, command: ProcessPayment, order_status: OrderStatus | None) -> Metric:
        """A payment made, and the saga no longer waiting for this command's answer: either it
        has the answer already (an earlier delivery of this command answered it) or it gave up
        waiting and is compensating without the payment. The order's status tells which: a
        confirmed order keeps its (single, per-order) charge; a cancelled one is refunded here,
        since its compensation may have run before the charge existed; an order still pending
        is not decided yet (`SagaUndecided`: the command is retried later)."""
        if order_status in (OrderStatus.CONFIRMED, OrderStatus.SHIPPED):
            return Metric.PAYMENTS_ALREADY_ANSWERED
        if order_status in (None, OrderStatus.PENDING):
            raise SagaUndecided(f"order {command.subject} is {order_status or 'unknown'}: the saga has not settled it")
        self.refund(command.subject, correlation_id=command.correlation_id, causation_id=command.id)
        return Metric.PAYMENTS_REFUNDED_LATE

    def _save(self, payment: Payment, event: Envelope[Any], *, previous: PaymentStatus | None) -> Payment:
        """Record the payment with its event; a record already there (or already moved on) is
        the outcome of an earlier attempt of the same step, and is the answer."""
        try:
            with self._uow as uow:
                if previous is None:
                    uow.payments.add(payment)
                else:
                    uow.payments.update(payment, expected_status=previous)
                uow.outbox.add(event)
                uow.commit()
        except AlreadyExists:
            stored = self._uow.payments.get(payment.order_id)
            assert stored is not None
            return stored
        return payment


def _voided(order_id: str) -> Payment:
    return Payment(order_id=order_id, status=PaymentStatus.VOIDED, amount=Decimal(0), currency="", reason="voided")


def _paid(order_id: str, charge: Charge) -> Payment:
    return Payment(
        order_id=order_id,
        status=PaymentStatus.PAID,
        amount=charge.amount,
        currency=charge.currency,
        payment_id=charge.payment_id,
    )
