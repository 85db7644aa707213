"""Publishing domain events to the two routers: the SNS FIFO topic (fan-out to FIFO queues,
ordered per order) and the EventBridge bus (rules, archive, replay).

Both publish in batches (`PublishBatch`, `PutEvents`: up to 10 entries and 256 KiB a call), in
the order given, and stop at the first event a router refuses: what follows it is not published
by this call, so an order's events never overtake one another on the FIFO topic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from orderflow.adapters.clients import shared_client
from orderflow.contracts import MessageAttribute
from orderflow.events import Envelope

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024


@dataclass(frozen=True)
class Refused:
    """The first event of a batch a router did not take (`index` into the events given)."""

    index: int
    reason: str


class EventPublisher(Protocol):
    def publish(self, events: Sequence[Envelope[Any]]) -> Refused | None:
        """Publish `events` in order; the first refusal, or None when every one was taken."""
        ...


def batches(entries: Sequence[tuple[dict[str, Any], int]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(index of the first entry, entries) in calls of at most 10 entries and 256 KiB."""
    start, size = 0, 0
    chunk: list[dict[str, Any]] = []
    for index, (entry, entry_size) in enumerate(entries):
        if chunk and (len(chunk) == MAX_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield start, chunk
            start, chunk, size = index, [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield start, chunk


class SnsFifoPublisher:
    """Group = order id (per-order ordering, parallel across orders); dedup id = event id, so a
    relay retry within SNS's 5-minute deduplication window is delivered once."""

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self._topic_arn = topic_arn
        self._client = client if client is not None else shared_client("sns")

    def publish(self, events: Sequence[Envelope[Any]]) -> Refused | None:
        entries = []
        for index, event in enumerate(events):
            body = event.to_json()
            entry = {
                "Id": str(index),
                "Message": body,
                "MessageGroupId": event.subject,
                "MessageDeduplicationId": event.id,
                "MessageAttributes": {
                    MessageAttribute.EVENT_TYPE: {"DataType": "String", "StringValue": str(event.type)},
                    MessageAttribute.CORRELATION_ID: {"DataType": "String", "StringValue": event.correlation_id},
                },
            }
            entries.append((entry, len(body.encode()) + 256))  # the attributes, generously
        for start, chunk in batches(entries):
            try:
                answer = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=chunk)
            except (ClientError, BotoCoreError) as error:
                return Refused(start, f"SNS: {error}")
            failed = answer.get("Failed") or []
            if failed:
                first = min(failed, key=lambda entry: int(entry["Id"]))
                return Refused(int(first["Id"]), f"SNS refused: {first.get('Code')} {first.get('Message', '')}")
        return None


class EventBridgePublisher:
    """detail-type = event type, source = producing service, detail = the whole envelope."""

    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        self._bus_name = bus_name
        self._client = client if client is not None else shared_client("events")

    def publish(self, events: Sequence[Envelope[Any]]) -> Refused | None:
        # Continue the X-Ray trace into the rules' targets (Lambda sets this variable).
        trace_header = os.environ.get("_X_AMZN_TRACE_ID")
        entries = []
        for event in events:
            detail = event.to_json()
            entry: dict[str, Any] = {
                "EventBusName": self._bus_name,
                "Source": str(event.source),
                "DetailType": str(event.type),
                "Detail": detail,
                "Time": event.time,
            }
            if trace_header:
                entry["TraceHeader"] = trace_header
            entries.append((entry, len(detail.encode()) + len(entry["Source"]) + len(entry["DetailType"])))
        for start, chunk in batches(entries):
            try:
                answer = self._client.put_events(Entries=chunk)
            except (ClientError, BotoCoreError) as error:
                return Refused(start, f"EventBridge: {error}")
            # PutEvents answers 200 even when an entry failed: the failure is per entry, in order.
            if answer.get("FailedEntryCount", 0):
                offset, entry = next((i, e) for i, e in enumerate(answer["Entries"]) if e.get("ErrorCode"))
                return Refused(start + offset, f"EventBridge refused: {entry['ErrorCode']} {entry.get('ErrorMessage')}")
        return None
