"""The failure log line a dead letter's reason is found by."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from orderflow.batch import FifoQueueProcessor
from orderflow.events import parse_event
from tests.support.factories import order_created, sqs_body_event


def test_each_failed_record_is_logged_with_its_id_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    batch = sqs_body_event(
        [
            ("o-1", "{not json"),
            ("o-1", order_created("o-1").to_json()),
            ("o-2", "{}"),
            ("o-3", order_created("o-3").to_json()),
        ]
    )

    def handle(record: Any) -> None:
        parse_event(record.body)

    response = process_partial_response(event=batch, record_handler=handle, processor=FifoQueueProcessor())

    assert response == {"batchItemFailures": [{"itemIdentifier": f"message-{i}"} for i in range(3)]}
    failures: dict[str, Any] = {
        record.message_id: record.reason for record in caplog.records if record.getMessage() == "record failed"
    }
    assert failures["message-0"].startswith("ValidationError: message: Invalid JSON")
    assert failures["message-1"].startswith("SQSFifoMessageGroupCircuitBreakerError: A previous record")
    assert "Unable to extract tag using discriminator 'type'" in failures["message-2"]


class _Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, record: Any, error: Exception) -> None:
        self.sent.append((record.message_id, type(error).__name__))


def test_a_write_the_store_refuses_is_dead_lettered_at_once_not_retried() -> None:
    from orderflow.batch import dead_lettering
    from orderflow.domain.errors import WriteRejected

    letters = _Letters()
    batch = sqs_body_event([("o-1", order_created("o-1").to_json()), ("o-2", order_created("o-2").to_json())])

    def handle(record: Any) -> None:
        if parse_event(record.body).subject == "o-1":
            raise WriteRejected("item 0: ValidationError")

    response = process_partial_response(
        event=batch,
        record_handler=dead_lettering(handle, letters),  # type: ignore[arg-type]
        processor=FifoQueueProcessor(),
    )

    assert response == {"batchItemFailures": []}  # handled: in the DLQ with its reason, not retried
    assert letters.sent == [("message-0", "WriteRejected")]
