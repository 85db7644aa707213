"""outbox-relay: outbox table stream -> SNS FIFO topic + EventBridge bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.outbox import event_from_stream_image
from orderflow.adapters.publishers import EventBridgePublisher, SnsFifoPublisher
from orderflow.batch import StreamProcessor
from orderflow.observability import bind_event, count, logger, metrics, tracer
from orderflow.services.relay import relay
from orderflow.settings import RelaySettings, load

settings = load(RelaySettings)
publishers = (SnsFifoPublisher(settings.order_events_topic_arn), EventBridgePublisher(settings.event_bus_name))
processor = StreamProcessor()


@tracer.capture_method
def handle_record(record: DynamoDBRecord) -> None:
    # Only new outbox records are events; REMOVEs are the TTL clearing published records.
    if record.event_name is not DynamoDBRecordEventName.INSERT:
        return
    event = event_from_stream_image(record.raw_event["dynamodb"]["NewImage"])
    bind_event(event)
    relay(event, publishers)
    count("EventsPublished", event_type=str(event.type))
    logger.info("event published")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
