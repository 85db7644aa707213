"""payments: ProcessPayment commands (payment-commands.fifo) -> the gateway, behind a circuit
breaker -> the saga's waiting task answered with SendTaskSuccess or SendTaskFailure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.circuit_breaker import (
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
    CircuitTransition,
    circuit_breaker,
)
from aws_lambda_powertools.utilities.circuit_breaker.persistence.dynamodb import CircuitBreakerDynamoDBPersistence
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.clients import shared_client
from orderflow.adapters.gateways import payment_gateway
from orderflow.adapters.payment_gateway import Charge
from orderflow.adapters.payments import TaskResponder
from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.batch import FifoQueueProcessor, dead_lettering, dead_letters_from_environment, parse_message
from orderflow.contracts import Metric, SagaError
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError, PaymentVoided, UnsupportedEvent
from orderflow.events.models import ProcessPayment
from orderflow.observability import bind_event, count, logger, metrics, tracer
from orderflow.services.payments import PaymentService
from orderflow.settings import PaymentsConsumerSettings, load

settings = load(PaymentsConsumerSettings)
gateway = payment_gateway(settings)
responder = TaskResponder()
processor = FifoQueueProcessor()
dead_letters = dead_letters_from_environment()


def _on_transition(transition: CircuitTransition) -> None:
    logger.warning("payment gateway circuit changed", extra={"transition": str(transition)})
    count(Metric.PAYMENT_CIRCUIT_TRANSITIONS, to_state=transition.to_state.value)
    if transition.to_state is CircuitState.OPEN:
        count(Metric.PAYMENT_CIRCUIT_OPENED)


# Only transient gateway failures count against the circuit; a declined card is an answer.
@circuit_breaker(
    name="payment-gateway",
    persistence_store=CircuitBreakerDynamoDBPersistence(
        table_name=settings.idempotency_table, boto3_client=shared_client("dynamodb")
    ),
    config=CircuitBreakerConfig(
        failure_threshold=settings.circuit_failure_threshold,
        recovery_timeout=settings.circuit_recovery_seconds,
        success_threshold=1,
        handled_exceptions=(PaymentGatewayError,),
    ),
    on_transition=_on_transition,
)
def charge(**request: Any) -> Charge:
    return gateway.charge(**request)


uow = unit_of_work(settings)
service = PaymentService(uow, gateway, charge)


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    command = parse_message(record.body)
    if not isinstance(command, ProcessPayment):
        raise UnsupportedEvent(f"payments handles ProcessPayment, not {command.type}")
    bind_event(command)
    token = command.data.task_token
    if not responder.heartbeat(token):
        # The saga no longer waits for this command (a redelivery of one already answered, or
        # it timed out and compensated): charging now would take money nobody accounts for,
        # and money an earlier delivery left at the provider after a void is given back.
        service.settle_abandoned(command)
        count(Metric.PAYMENTS_NOT_AWAITED)
        logger.info("payment command no longer awaited")
        return
    try:
        payment = service.process(command)
    except PaymentVoided as voided:
        # The saga compensated while this command was on its way; nothing is kept, nobody waits.
        count(Metric.PAYMENTS_NOT_AWAITED)
        logger.info("payment command no longer awaited", extra={"reason": str(voided)})
        return
    except PaymentDeclined as declined:
        outcome, answered = Metric.PAYMENTS_DECLINED, responder.fail(token, SagaError.PAYMENT_DECLINED, str(declined))
    except PaymentGatewayError as error:
        outcome, answered = Metric.PAYMENT_GATEWAY_ERRORS, responder.fail(token, SagaError.PAYMENT_GATEWAY, str(error))
        if not answered:
            service.settle_abandoned(command)  # a charge whose answer was lost after a void
    except CircuitBreakerOpenError as error:
        outcome, answered = (
            Metric.PAYMENTS_REJECTED_CIRCUIT_OPEN,
            responder.fail(token, SagaError.PAYMENT_UNAVAILABLE, str(error)),
        )
    else:
        output = {"payment_id": payment.payment_id, "amount": str(payment.amount), "currency": payment.currency}
        outcome, answered = Metric.PAYMENTS_PAID, responder.succeed(token, output)
        if not answered:
            order = uow.orders.get(command.subject)
            outcome = service.settle_unanswered(command, order.status if order else None)
    count(outcome)
    logger.info("payment processed", extra={"outcome": outcome, "saga_answered": answered})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dead_lettering(handle_record, dead_letters), processor=processor, context=context
    )
