"""Publishing domain events to the two routers: the SNS FIFO topic (fan-out to FIFO queues,
ordered per order) and the EventBridge bus (rules, archive, replay)."""

from __future__ import annotations

import os
from typing import Any, Protocol

import boto3

from orderflow.adapters.errors import PublishFailed
from orderflow.contracts import MessageAttribute
from orderflow.events import Envelope


class EventPublisher(Protocol):
    def publish(self, event: Envelope[Any]) -> None: ...


class SnsFifoPublisher:
    """Group = order id (per-order ordering, parallel across orders); dedup id = event id, so a
    relay retry within SNS's 5-minute deduplication window is delivered once."""

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self._topic_arn = topic_arn
        self._client = client if client is not None else boto3.client("sns")

    def publish(self, event: Envelope[Any]) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Message=event.to_json(),
            MessageGroupId=event.subject,
            MessageDeduplicationId=event.id,
            MessageAttributes={
                MessageAttribute.EVENT_TYPE: {"DataType": "String", "StringValue": str(event.type)},
                MessageAttribute.CORRELATION_ID: {"DataType": "String", "StringValue": event.correlation_id},
            },
        )


class EventBridgePublisher:
    """detail-type = event type, source = producing service, detail = the whole envelope."""

    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        self._bus_name = bus_name
        self._client = client if client is not None else boto3.client("events")

    def publish(self, event: Envelope[Any]) -> None:
        entry: dict[str, Any] = {
            "EventBusName": self._bus_name,
            "Source": str(event.source),
            "DetailType": str(event.type),
            "Detail": event.to_json(),
            "Time": event.time,
        }
        # Continue the X-Ray trace into the rules' targets (Lambda sets this variable).
        trace_header = os.environ.get("_X_AMZN_TRACE_ID")
        if trace_header:
            entry["TraceHeader"] = trace_header
        answer = self._client.put_events(Entries=[entry])
        # PutEvents answers 200 even when an entry failed: the failure is per entry.
        if answer.get("FailedEntryCount", 0):
            entry = answer["Entries"][0]
            raise PublishFailed(f"EventBridge refused {event.id}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
