"""Powertools batch processors that log why each record failed, with the record's id.

A record that keeps failing ends in its dead-letter queue, where SQS keeps the message but not
the reason: this log line ("record failed", `message_id`, `reason`) is where the reason is
found (CloudWatch Logs Insights on AWS; the local cloud's DLQ summary reads it too).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from orderflow.adapters.clients import shared_client
from orderflow.contracts import Env, MessageAttribute, Metric
from orderflow.domain.errors import MalformedMessage, UnsupportedEvent, WriteRejected, reason_of
from orderflow.events import AnyEvent, parse_event
from orderflow.observability import logger, metrics

FAILURE_LOG_MESSAGE = "record failed"


def parse_message(raw: str | bytes) -> AnyEvent:
    """A message's event; a message that is not a valid event (not JSON, an unknown type, a
    payload that breaks its schema) is `MalformedMessage`: permanent, dead-lettered at once."""
    try:
        return parse_event(raw)
    except ValidationError as error:
        raise MalformedMessage(reason_of(error)) from error


def _record_id(record: Any) -> str:
    if hasattr(record, "message_id"):
        return str(record.message_id)
    return str(record.dynamodb.sequence_number)


class _LogsFailures:
    def failure_handler(self, record: Any, exception: ExceptionInfo) -> Any:
        _, error, _ = exception
        reason = reason_of(error)
        logger.error(FAILURE_LOG_MESSAGE, extra={"message_id": _record_id(record), "reason": reason})
        metrics.add_metric(name=Metric.BATCH_ITEM_FAILURES, unit="Count", value=1)
        return super().failure_handler(record, exception)  # type: ignore[misc]


class FifoQueueProcessor(_LogsFailures, SqsFifoPartialProcessor):
    """FIFO queues: a failed record fails only the later records of its own message group
    (`skip_group_on_error`), so one poison message never holds back other orders."""

    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)


class QueueProcessor(_LogsFailures, BatchProcessor):
    """Standard queues: each failed record is retried alone."""

    def __init__(self) -> None:
        super().__init__(event_type=EventType.SQS)


class StreamProcessor(_LogsFailures, BatchProcessor):
    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)


# Failures no retry can fix: the message does not parse, breaks its schema, is not for this
# consumer, or asks for a write the store refuses whatever the timing. They go to the DLQ at
# once, with the reason, instead of maxReceiveCount receives.
PERMANENT: tuple[type[Exception], ...] = (MalformedMessage, UnsupportedEvent, WriteRejected)


class DeadLetters:
    """Sends a message to its queue's dead-letter queue with the reason as attributes."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self._url = queue_url
        self._client = client if client is not None else shared_client("sqs")

    def send(self, record: SQSRecord, error: Exception) -> None:
        request: dict[str, Any] = {
            "QueueUrl": self._url,
            "MessageBody": record.body,
            "MessageAttributes": {
                MessageAttribute.FAILURE_REASON: _attribute(reason_of(error)),
                MessageAttribute.ERROR_TYPE: _attribute(type(error).__name__),
                MessageAttribute.SOURCE_QUEUE: _attribute(record.event_source_arn),
            },
        }
        group = record.attributes.message_group_id
        if group:  # a FIFO DLQ: same group, and the original message id as deduplication id
            request["MessageGroupId"] = group
            request["MessageDeduplicationId"] = record.message_id
        self._client.send_message(**request)


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value or "-"}


def dead_lettering(
    record_handler: Callable[[SQSRecord], None], dead_letters: DeadLetters | None
) -> Callable[[SQSRecord], None]:
    """`record_handler`, with permanent failures moved to the DLQ (the record then counts as
    handled, so it neither retries nor holds back the rest of its group). Transient failures
    still raise, and are retried by the queue."""
    if dead_letters is None:
        return record_handler

    def handle(record: SQSRecord) -> None:
        try:
            record_handler(record)
        except PERMANENT as error:
            logger.error(
                FAILURE_LOG_MESSAGE,
                extra={
                    "message_id": record.message_id,
                    "reason": reason_of(error),
                    "dead_lettered": True,
                },
            )
            dead_letters.send(record, error)
            metrics.add_metric(name=Metric.MESSAGES_DEAD_LETTERED, unit="Count", value=1)

    return handle


def dead_letters_from_environment() -> DeadLetters | None:
    """The consumer's DLQ, when the stack told it (`DEAD_LETTER_QUEUE_URL`)."""
    url = os.environ.get(Env.DEAD_LETTER_QUEUE_URL)
    return DeadLetters(url) if url else None
