"""The simulated payment provider on moto: its idempotency semantics, its append-only ledger, and
the ways it misbehaves (down, slow, an answer lost after the money moved)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest

from orderflow.adapters.payment_gateway import (
    CHARGE,
    CHARGED,
    DECLINED,
    FAILED,
    REFUNDED,
    REPLAYED,
    IdempotencyKeyReused,
    Reliable,
    SimulatedGateway,
)
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError
from tests.support.aws import REGION, Resources

EUR = "EUR"


class Misbehaving:
    def __init__(self, *, down: bool = False, lose_answer: bool = False, delay: float = 0.0) -> None:
        self.down, self.lose_answer, self.delay = down, lose_answer, delay

    def before(self, operation: str) -> None:
        time.sleep(self.delay)
        if self.down:
            raise PaymentGatewayError("provider unavailable")

    def after_applied(self, operation: str) -> None:
        if self.lose_answer and operation == CHARGE:
            raise PaymentGatewayError("timed out")


@pytest.fixture
def gateway(aws: Resources) -> Iterator[SimulatedGateway]:
    yield SimulatedGateway(aws.ledger_table, client=boto3.client("dynamodb", region_name=REGION))
    SimulatedGateway.behaviour = Reliable()


def _charge(
    gateway: SimulatedGateway,
    key: str = "o-1",
    token: str = "tok_ok",  # noqa: S107 - a test card
    amount: str = "49.00",
) -> str:
    return gateway.charge(
        idempotency_key=key, reference=key, amount=Decimal(amount), currency=EUR, token=token
    ).payment_id


def _net(gateway: SimulatedGateway, reference: str) -> Decimal:
    return sum((entry.moved for entry in gateway.entries() if entry.reference == reference), Decimal(0))


def test_a_key_charges_once_and_every_request_is_in_the_ledger(gateway: SimulatedGateway) -> None:
    first, again = _charge(gateway), _charge(gateway)

    assert first == again
    assert [(entry.outcome, entry.moved) for entry in gateway.entries()] == [
        (CHARGED, Decimal("49.00")),
        (REPLAYED, Decimal(0)),
    ]
    assert _net(gateway, "o-1") == Decimal("49.00")


def test_a_charge_whose_answer_was_lost_is_applied_and_its_retry_gets_the_same_payment(
    gateway: SimulatedGateway,
) -> None:
    SimulatedGateway.behaviour = Misbehaving(lose_answer=True)
    with pytest.raises(PaymentGatewayError):
        _charge(gateway)
    SimulatedGateway.behaviour = Reliable()

    payment_id = _charge(gateway)

    assert [entry.outcome for entry in gateway.entries()] == [CHARGED, REPLAYED]
    assert gateway.entries()[0].payment_id == payment_id
    found = gateway.find(idempotency_key="o-1")
    assert found is not None
    assert found.payment_id == payment_id


def test_a_provider_that_is_down_receives_nothing(gateway: SimulatedGateway) -> None:
    SimulatedGateway.behaviour = Misbehaving(down=True)

    with pytest.raises(PaymentGatewayError):
        _charge(gateway)

    assert gateway.entries() == []


def test_a_slow_provider_answers_late(gateway: SimulatedGateway) -> None:
    SimulatedGateway.behaviour = Misbehaving(delay=0.3)
    started = time.monotonic()

    _charge(gateway)

    assert time.monotonic() - started >= 0.3


def test_a_decline_is_the_keys_result_and_a_processing_error_is_not(gateway: SimulatedGateway) -> None:
    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            _charge(gateway, key="o-declined", token="tok_declined")
    with pytest.raises(PaymentGatewayError):
        _charge(gateway, key="o-flaky", token="tok_flaky")
    with pytest.raises(PaymentGatewayError):
        _charge(gateway, key="o-flaky", token="tok_flaky")
    _charge(gateway, key="o-flaky", token="tok_flaky")

    outcomes = [(entry.reference, entry.outcome) for entry in gateway.entries()]
    assert outcomes == [
        ("o-declined", DECLINED),
        ("o-declined", REPLAYED),
        ("o-flaky", FAILED),
        ("o-flaky", FAILED),
        ("o-flaky", CHARGED),
    ]
    assert _net(gateway, "o-declined") == 0


def test_a_key_sent_again_with_another_amount_is_refused(gateway: SimulatedGateway) -> None:
    _charge(gateway)
    with pytest.raises(PaymentGatewayError):
        _charge(gateway, key="o-flaky", token="tok_flaky")  # failed: no result fixed, but the request is

    with pytest.raises(IdempotencyKeyReused, match="amount"):
        _charge(gateway, amount="50.00")
    with pytest.raises(IdempotencyKeyReused, match="amount"):
        _charge(gateway, key="o-flaky", token="tok_flaky", amount="50.00")


def test_a_refund_moves_the_money_back_once(gateway: SimulatedGateway) -> None:
    payment_id = _charge(gateway)

    gateway.refund(payment_id=payment_id, idempotency_key="o-1/refund")
    gateway.refund(payment_id=payment_id, idempotency_key="o-1/refund")
    gateway.refund(payment_id=payment_id, idempotency_key="o-1/refund-again")

    assert [entry.outcome for entry in gateway.entries()] == [CHARGED, REFUNDED, REPLAYED, "already_refunded"]
    assert _net(gateway, "o-1") == 0
    assert gateway.find(idempotency_key="o-1") is None


def test_concurrent_requests_with_one_key_charge_once(gateway: SimulatedGateway) -> None:
    answers: list[str] = []
    clients = [SimulatedGateway(gateway._table, client=boto3.client("dynamodb", region_name=REGION)) for _ in range(4)]
    threads = [threading.Thread(target=lambda c=client: answers.append(_charge(c))) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 4  # every caller answered: a provider serializes requests on one key
    assert len(set(answers)) == 1
    assert [entry.outcome for entry in gateway.entries()].count(CHARGED) == 1
    assert _net(gateway, "o-1") == Decimal("49.00")
