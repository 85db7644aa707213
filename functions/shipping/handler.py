"""shipping: OrderConfirmed (shipping.fifo) -> a shipment and OrderShipped."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.batch import FifoQueueProcessor, dead_lettering, dead_letters_from_environment, parse_message
from orderflow.contracts import Metric
from orderflow.domain.errors import UnsupportedEvent
from orderflow.events.models import OrderConfirmed
from orderflow.observability import bind_event, logger, metrics, tracer
from orderflow.services.shipping import ship
from orderflow.settings import ShippingSettings, load

settings = load(ShippingSettings)
uow = unit_of_work(settings)
processor = FifoQueueProcessor()
dead_letters = dead_letters_from_environment()


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    event = parse_message(record.body)
    if not isinstance(event, OrderConfirmed):
        raise UnsupportedEvent(f"shipping handles OrderConfirmed, not {event.type}")
    bind_event(event)
    shipped = ship(uow, event)
    metrics.add_metric(name=Metric.ORDERS_SHIPPED if shipped else Metric.DUPLICATES_SKIPPED, unit="Count", value=1)
    logger.info("order shipped" if shipped else "already shipped")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dead_lettering(handle_record, dead_letters), processor=processor, context=context
    )
