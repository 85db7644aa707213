"""Lambda's asynchronous invocation queue: an event waits out throttles until it is too old,
a failing one is retried, and what could not be processed goes to the on-failure destination
or, without one, to the function's dead-letter queue."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from localcloud.event_queue import EventQueue
from localcloud.provision import Deployment, FunctionSpec
from localcloud.runtime import LambdaRuntime
from tests.integration.test_local_runtime import _function

DLQ = "arn:aws:sqs:eu-west-1:123456789012:async-dlq"
DESTINATION = "arn:aws:sqs:eu-west-1:123456789012:failed-invocations"
URLS = {DLQ: "http://local/123456789012/async-dlq", DESTINATION: "http://local/123456789012/failed-invocations"}


class SentMessages:
    """The SQS client Lambda sends with: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"MessageId": str(len(self.sent))}


def _queue(runtime: LambdaRuntime, settings: dict[str, Any], sqs: SentMessages, reports: list[Any]) -> EventQueue:
    return EventQueue(
        runtime,
        Deployment(template={"Resources": {}}, queue_urls=URLS),
        client=lambda spec, service: sqs,
        settings=lambda name: settings,
        report=lambda kind, details: reports.append((kind, details)),
        retry_delay_seconds=0.1,
    )


def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def _spec(tmp_path: Path) -> FunctionSpec:
    return replace(_function(tmp_path, "busy", {}, timeout=5), dead_letter_arn=DLQ)


def test_an_event_throttled_until_it_is_too_old_goes_to_the_dead_letter_queue(tmp_path: Path) -> None:
    runtime = LambdaRuntime(
        {"busy": _spec(tmp_path)}, {"PATH": "/usr/bin:/bin"}, lambda *_: None, reservations=lambda: {"busy": 0}
    )
    sqs, reports = SentMessages(), []
    events = _queue(runtime, {"MaximumEventAgeInSeconds": 1}, sqs, reports)
    try:
        request_id = events.invoke("busy", {"order": 1})
        _wait(lambda: events.idle)
    finally:
        events.stop()
        runtime.stop()

    (sent,) = sqs.sent
    assert sent["QueueUrl"] == URLS[DLQ]
    assert json.loads(sent["MessageBody"]) == {"order": 1}  # the event itself
    attributes = {name: value["StringValue"] for name, value in sent["MessageAttributes"].items()}
    assert attributes == {"RequestID": request_id, "ErrorCode": "429", "ErrorMessage": "EventAgeExceeded"}
    assert runtime.invocations["busy"] == 0  # it never ran
    assert runtime.throttles["busy"] >= 1
    assert (
        "async_invocation_failed",
        {"function": "busy", "request_id": request_id, "condition": "EventAgeExceeded", "sent_to": DLQ},
    ) in reports


def test_a_failing_event_is_retried_then_recorded_at_the_on_failure_destination(tmp_path: Path) -> None:
    runtime = LambdaRuntime({"busy": _spec(tmp_path)}, {"PATH": "/usr/bin:/bin"}, lambda *_: None)
    sqs, reports = SentMessages(), []
    settings = {"MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": DESTINATION}}}
    events = _queue(runtime, settings, sqs, reports)
    try:
        events.invoke("busy", {"fail": True})
        _wait(lambda: events.idle)
    finally:
        events.stop()
        runtime.stop()

    (sent,) = sqs.sent  # to the destination, not also to the dead-letter queue
    assert sent["QueueUrl"] == URLS[DESTINATION]
    record = json.loads(sent["MessageBody"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"fail": True}
    assert record["responsePayload"]["errorType"] == "KeyError"
    assert runtime.invocations["busy"] == 2


def test_an_event_that_succeeds_sends_nothing_without_an_on_success_destination(tmp_path: Path) -> None:
    runtime = LambdaRuntime({"busy": _spec(tmp_path)}, {"PATH": "/usr/bin:/bin"}, lambda *_: None)
    sqs, reports = SentMessages(), []
    events = _queue(runtime, {}, sqs, reports)
    try:
        events.invoke("busy", {})
        _wait(lambda: events.idle)
    finally:
        events.stop()
        runtime.stop()

    assert sqs.sent == []
    assert runtime.invocations["busy"] == 1
