"""refund-payment: compensation. Refunds a paid order in full; idempotent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.gateways import payment_gateway
from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.domain.saga import SagaContext
from orderflow.observability import logger, metrics, tracer
from orderflow.services.payments import PaymentService
from orderflow.settings import PaymentsSettings, load

settings = load(PaymentsSettings)
service = PaymentService(unit_of_work(settings), payment_gateway(settings))


@logger.inject_lambda_context(correlation_id_path="saga.correlation_id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    saga = SagaContext.model_validate(event["saga"])
    logger.append_keys(order_id=saga.order_id)
    payment = service.refund(saga.order_id, correlation_id=saga.correlation_id, causation_id=saga.event_id)
    logger.info("payment refunded", extra={"status": payment.status if payment else None})
    return {"status": payment.status if payment else None}
