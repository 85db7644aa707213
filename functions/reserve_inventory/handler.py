"""reserve-inventory: saga step 1. Raises `OutOfStock` (the saga cancels, no retry)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.domain.saga import SagaContext
from orderflow.observability import logger, metrics, tracer
from orderflow.services.inventory import InventoryService
from orderflow.settings import InventorySettings, load

service = InventoryService(unit_of_work(load(InventorySettings)))


@logger.inject_lambda_context(correlation_id_path="saga.correlation_id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    saga = SagaContext.model_validate(event["saga"])
    logger.append_keys(order_id=saga.order_id)
    reservation = service.reserve(
        saga.order_id, saga.stock_lines, correlation_id=saga.correlation_id, causation_id=saga.event_id
    )
    logger.info("stock reserved", extra={"status": reservation.status})
    return reservation.model_dump(mode="json")
