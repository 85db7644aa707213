"""saga-starter: OrderCreated events (the saga-starts queue, fed by an EventBridge rule) ->
the fulfilment saga, with the order id as execution name, so a duplicate starts nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.saga import SagaStarter
from orderflow.batch import QueueProcessor, dead_lettering, dead_letters_from_environment, parse_message
from orderflow.contracts import Metric
from orderflow.domain.errors import MalformedMessage, UnsupportedEvent
from orderflow.domain.saga import SagaContext
from orderflow.events.models import OrderCreated
from orderflow.observability import bind_event, logger, metrics, tracer
from orderflow.settings import SagaStarterSettings, load

settings = load(SagaStarterSettings)
starter = SagaStarter(settings.state_machine_arn)
processor = QueueProcessor()
dead_letters = dead_letters_from_environment()


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    try:
        detail = json.loads(record.body)["detail"]
    except (ValueError, TypeError, KeyError) as error:
        raise MalformedMessage(f"not an EventBridge event with a detail: {error}") from error
    created = parse_message(json.dumps(detail))
    if not isinstance(created, OrderCreated):
        raise UnsupportedEvent(f"saga-starter handles OrderCreated, not {created.type}")
    bind_event(created)
    saga = SagaContext.from_event(created, payment_deadline=timedelta(seconds=settings.payment_deadline_seconds))
    started = starter.start(saga)
    metrics.add_metric(name=Metric.SAGAS_STARTED if started else Metric.DUPLICATES_SKIPPED, unit="Count", value=1)
    logger.info("saga started" if started else "saga already running for this order")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dead_lettering(handle_record, dead_letters), processor=processor, context=context
    )
