"""order-steps: the saga's order steps — `confirm`, `settle` (after a confirmation that reported
failure: keep it if it was stored, else cancel), `cancel` (with the reason) and `flag`
(NEEDS_ATTENTION after a failed compensation) — chosen by the task's `step` field."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.contracts import Metric, SagaStep
from orderflow.domain.saga import SagaContext
from orderflow.events.types import CancellationReason
from orderflow.observability import count, logger, metrics, record_duration, tracer
from orderflow.services.fulfilment import FulfilmentService
from orderflow.settings import OrderStepsSettings, load

service = FulfilmentService(unit_of_work(load(OrderStepsSettings)))


@logger.inject_lambda_context(correlation_id_path="saga.correlation_id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    saga = SagaContext.model_validate(event["saga"])
    step = SagaStep(event["step"])
    logger.append_keys(order_id=saga.order_id, step=step)
    causes = {"correlation_id": saga.correlation_id, "causation_id": saga.event_id}
    if step is SagaStep.CONFIRM:
        order = service.confirm(saga.order_id, **causes)
        count(Metric.ORDERS_CONFIRMED)
    elif step is SagaStep.SETTLE:
        # Not counted as a cancellation here: the CancelOrder step that follows counts it.
        reason = saga.reason or CancellationReason.FULFILMENT_FAILED
        order = service.settle(saga.order_id, reason=reason, detail=saga.error_detail, **causes)
    elif step is SagaStep.CANCEL:
        reason = saga.reason or CancellationReason.FULFILMENT_FAILED
        order = service.cancel(saga.order_id, reason=reason, detail=saga.error_detail, **causes)
        count(Metric.ORDERS_CANCELLED, reason=str(reason))
    elif step is SagaStep.FLAG:
        order = service.flag(saga.order_id, problem=saga.error_detail or "compensation failed", **causes)
        count(Metric.ORDERS_NEEDING_ATTENTION)
    else:
        raise ValueError(f"order-steps does not run the {step!r} step")
    record_duration(Metric.SAGA_DURATION, order.created_at)
    logger.info("order moved", extra={"status": order.status})
    return {"status": order.status, "version": order.version}
