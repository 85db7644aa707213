"""outbox-relay: outbox table stream -> SNS FIFO topic + EventBridge bus, in batches.

Powertools' batch utility handles one record at a time; the relay publishes a stream batch with
`PublishBatch` and `PutEvents` (10 events a call) instead, and reports the first record it could
not publish as the batch item failure: Lambda retries the stream from that record, so events
keep their order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.outbox import event_from_stream_image
from orderflow.adapters.publishers import EventBridgePublisher, Refused, SnsFifoPublisher
from orderflow.batch import FAILURE_LOG_MESSAGE
from orderflow.contracts import Metric
from orderflow.domain.errors import reason_of
from orderflow.events import Envelope
from orderflow.observability import count, logger, metrics, record_duration, tracer
from orderflow.services.relay import relay
from orderflow.settings import RelaySettings, load

settings = load(RelaySettings)
publishers = (SnsFifoPublisher(settings.order_events_topic_arn), EventBridgePublisher(settings.event_bus_name))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    # Only new outbox records are events (the event source filters out the TTL's REMOVEs).
    records = [record for record in event["Records"] if record["eventName"] == "INSERT"]
    events: list[Envelope[Any]] = []
    refused: Refused | None = None
    for index, record in enumerate(records):
        try:
            events.append(event_from_stream_image(record["dynamodb"]["NewImage"]))
        except Exception as error:
            refused = Refused(index, f"unreadable outbox record: {reason_of(error)}")
            break
    published = relay(events, publishers)
    if published is not None:
        refused = published
    done = events[: refused.index] if refused else events
    for envelope in done:
        logger.info(
            "event published",
            extra={
                "order_id": envelope.subject,
                "correlation_id": envelope.correlation_id,
                "event_type": str(envelope.type),
                "event_id": envelope.id,
            },
        )
        count(Metric.EVENTS_PUBLISHED, event_type=str(envelope.type))
        record_duration(Metric.EVENT_AGE, envelope.time)
    if refused is None:
        return {"batchItemFailures": []}
    sequence_number = str(records[refused.index]["dynamodb"]["SequenceNumber"])
    logger.error(FAILURE_LOG_MESSAGE, extra={"message_id": sequence_number, "reason": refused.reason})
    metrics.add_metric(name=Metric.BATCH_ITEM_FAILURES, unit="Count", value=len(records) - refused.index)
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
