"""history-projector: order events (order-history.fifo) -> the order read model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.batch import FifoQueueProcessor, dead_lettering, dead_letters_from_environment, parse_message
from orderflow.contracts import Metric
from orderflow.observability import bind_event, logger, metrics, tracer
from orderflow.services.projection import Applied, apply_event
from orderflow.settings import ProjectorSettings, load

settings = load(ProjectorSettings)
uow = unit_of_work(settings)
processor = FifoQueueProcessor()
dead_letters = dead_letters_from_environment()

_METRIC = {
    Applied.DUPLICATE: Metric.DUPLICATES_SKIPPED,
    Applied.STALE: Metric.STALE_EVENTS_REJECTED,
}


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    event = parse_message(record.body)
    bind_event(event)
    applied = apply_event(uow, event)
    metrics.add_metric(name=_METRIC.get(applied, Metric.EVENTS_PROJECTED), unit="Count", value=1)
    logger.info("event projected", extra={"outcome": str(applied)})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dead_lettering(handle_record, dead_letters), processor=processor, context=context
    )
