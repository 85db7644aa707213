"""notifier: customer-facing order events (notifications.fifo) -> a customer notification."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.clients import shared_client
from orderflow.adapters.notifications import RecordingChannel
from orderflow.batch import FifoQueueProcessor, dead_lettering, dead_letters_from_environment, parse_message
from orderflow.contracts import Key, Metric
from orderflow.events import parse_event_dict
from orderflow.observability import bind_event, logger, metrics, tracer
from orderflow.services.notifying import notify
from orderflow.settings import NotifierSettings, load

settings = load(NotifierSettings)
channel = RecordingChannel(settings.notifications_table)
processor = FifoQueueProcessor()
dead_letters = dead_letters_from_environment()
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table, key_attr=Key.IDEMPOTENCY_ID, boto3_client=shared_client("dynamodb")
)
# One notification per event id, however often the event is delivered.
idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=settings.idempotency_ttl_seconds)


@idempotent_function(data_keyword_argument="envelope", config=idempotency, persistence_store=persistence)
def send_once(envelope: dict[str, Any]) -> dict[str, Any]:
    notification = notify(channel, parse_event_dict(envelope))
    metrics.add_metric(name=Metric.CUSTOMERS_NOTIFIED, unit="Count", value=1)
    return notification.model_dump(mode="json")


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    event = parse_message(record.body)
    bind_event(event)
    send_once(envelope=event.to_dict())
    logger.info("customer notified")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=dead_lettering(handle_record, dead_letters), processor=processor, context=context
    )
