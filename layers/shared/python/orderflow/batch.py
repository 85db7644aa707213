"""Powertools batch processors that log why each record failed, with the record's id.

A record that keeps failing ends in its dead-letter queue, where SQS keeps the message but not
the reason: this log line ("record failed", `message_id`, `reason`) is where the reason is
found (CloudWatch Logs Insights on AWS; the local cloud's DLQ summary reads it too).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from pydantic import ValidationError

from orderflow.observability import logger, metrics

FAILURE_LOG_MESSAGE = "record failed"
_MAX_REASON = 500


def _record_id(record: Any) -> str:
    if hasattr(record, "message_id"):
        return str(record.message_id)
    return str(record.dynamodb.sequence_number)


def _describe(error: BaseException | None) -> str:
    """A one-line reason; for a message that breaks the event schema, each field and its problem."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
            for problem in error.errors(include_url=False)[:5]
        )
    return " ".join(str(error).split())


class _LogsFailures:
    def failure_handler(self, record: Any, exception: ExceptionInfo) -> Any:
        error_type, error, _ = exception
        reason = f"{error_type.__name__ if error_type else 'Error'}: {_describe(error)}"[:_MAX_REASON]
        logger.error(FAILURE_LOG_MESSAGE, extra={"message_id": _record_id(record), "reason": reason})
        metrics.add_metric(name="BatchItemFailures", unit="Count", value=1)
        return super().failure_handler(record, exception)  # type: ignore[misc]


class FifoQueueProcessor(_LogsFailures, SqsFifoPartialProcessor):
    """FIFO queues: a failed record fails only the later records of its own message group
    (`skip_group_on_error`), so one poison message never holds back other orders."""

    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)


class StreamProcessor(_LogsFailures, BatchProcessor):
    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)
