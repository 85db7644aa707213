"""Dead-letter queues: find them, read them, and move their messages back to their source."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from orderflow.contracts import MessageAttribute

HOLD_SECONDS = 60  # how long a redrive keeps the messages it leaves out of sight
FAILURE_ATTRIBUTES = {MessageAttribute.FAILURE_REASON, MessageAttribute.ERROR_TYPE, MessageAttribute.SOURCE_QUEUE}


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    source_url: str | None  # the queue whose redrive policy targets it (None: a failure destination)
    depth: int

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


@dataclass(frozen=True)
class Letter:
    message_id: str
    group: str | None
    deduplication_id: str | None
    receive_count: int
    sent_at: float
    event_type: str | None
    order_id: str | None
    correlation_id: str | None
    reason: str
    body: str
    attributes: dict[str, Any]


def _attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"])


def dead_letter_queues(sqs: Any) -> list[DeadLetterQueue]:
    """Every queue another queue's redrive policy points at, and every failure destination."""
    urls = sqs.list_queues().get("QueueUrls", [])
    sources: dict[str, str] = {}
    arns: dict[str, str] = {}
    for url in urls:
        attributes = _attributes(sqs, url, "QueueArn", "RedrivePolicy")
        arns[url] = attributes["QueueArn"]
        if "RedrivePolicy" in attributes:
            sources[json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]] = url
    found = []
    for url in urls:
        name = url.rsplit("/", 1)[-1]
        if arns[url] in sources or "Failures" in name:
            depth = int(_attributes(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])
            found.append(DeadLetterQueue(name, url, arns[url], sources.get(arns[url]), depth))
    return sorted(found, key=lambda queue: queue.name)


def find(sqs: Any, name: str) -> DeadLetterQueue:
    matches = [queue for queue in dead_letter_queues(sqs) if name in (queue.name, queue.url) or name in queue.name]
    if len(matches) != 1:
        raise SystemExit(f"{len(matches)} dead-letter queues match {name!r}: {[q.name for q in matches]}")
    return matches[0]


def _letter(message: dict[str, Any], reason_for: Callable[[dict[str, Any]], str]) -> Letter:
    try:
        envelope = json.loads(message["Body"])
    except ValueError:
        envelope = None
    envelope = envelope if isinstance(envelope, dict) else {}
    if isinstance(envelope.get("detail"), dict) and "detail-type" in envelope:
        envelope = envelope["detail"]  # an EventBridge event (a rule's target queue): the envelope is its detail
    return Letter(
        message_id=message["MessageId"],
        group=message["Attributes"].get("MessageGroupId"),
        deduplication_id=message["Attributes"].get("MessageDeduplicationId"),
        receive_count=int(message["Attributes"].get("ApproximateReceiveCount", 0)),
        sent_at=int(message["Attributes"].get("SentTimestamp", 0)) / 1000,
        event_type=envelope.get("type"),
        order_id=envelope.get("subject"),
        correlation_id=envelope.get("correlation_id"),
        reason=reason_for(message),
        body=message["Body"],
        attributes=message.get("MessageAttributes", {}),
    )


def attached_reason(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get(MessageAttribute.FAILURE_REASON)
    if attribute:
        return str(attribute["StringValue"])
    return "retries exhausted (maxReceiveCount): see the consumer's 'record failed' log line for this message"


def peek(sqs: Any, queue: DeadLetterQueue, *, limit: int = 1000, hold_seconds: int = 30) -> list[dict[str, Any]]:
    """Messages in the queue, in delivery order, made visible again afterwards (a peek)."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        batch = _receive(sqs, queue.url, 10, hold_seconds)
        if not batch:
            break
        for message in batch:
            seen.setdefault(message["MessageId"], message)
    release(sqs, queue.url, [m["ReceiptHandle"] for m in seen.values()])
    return list(seen.values())


def _receive(sqs: Any, queue_url: str, count: int, hold_seconds: int) -> list[dict[str, Any]]:
    """Up to `count` messages with all their attributes, out of sight for `hold_seconds`."""
    return list(
        sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=count,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=hold_seconds,
        ).get("Messages", [])
    )


def release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    """Make the received messages with these receipt handles visible again at once."""
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start : start + 10])
            ],
        )


def show(
    sqs: Any, queue: DeadLetterQueue, reason_for: Callable[[dict[str, Any]], str] = attached_reason
) -> list[Letter]:
    return [_letter(message, reason_for) for message in peek(sqs, queue)]


def oldest_age_seconds(letters: list[Letter]) -> float | None:
    return max((time.time() - letter.sent_at for letter in letters), default=None)


@dataclass
class Redrive:
    moved: int = 0
    planned: int = 0
    method: str = ""
    moved_ids: list[str] = field(default_factory=list)


def redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    per_second: float = 50.0,
    progress: Callable[[int], None] | None = None,
    only: Collection[str] | None = None,
) -> Redrive:
    """Move messages back to the source queue, oldest first. FIFO: each keeps its group (so
    per-order order holds) and gets a fresh deduplication id (the old one would be deduplicated
    away). Standard queues use SQS's own StartMessageMoveTask where the endpoint has it. With
    `only`, just the messages with those ids move, the others stay where they were; on a FIFO
    queue a chosen message behind an unchosen one of its group cannot be reached (SQS holds a
    group back while its first message is out) unless both come in one receive: it stays too,
    and is not in `moved_ids`."""
    if queue.source_url is None:
        raise SystemExit(f"{queue.name} is a failure destination: redrive it with orderflow.ops.failures")
    if dry_run:
        letters = show(sqs, queue)
        count = len(letters) if max_messages is None else min(max_messages, len(letters))
        return Redrive(planned=count, method="dry run")
    if not queue.fifo and only is None:
        source_arn = _attributes(sqs, queue.source_url, "QueueArn")["QueueArn"]
        try:
            request: dict[str, Any] = {"SourceArn": queue.arn, "DestinationArn": source_arn}
            request["MaxNumberOfMessagesPerSecond"] = max(1, int(per_second))
            sqs.start_message_move_task(**request)
            return Redrive(planned=queue.depth, method="StartMessageMoveTask")
        except Exception as missing:
            print(f"StartMessageMoveTask unavailable ({type(missing).__name__}); moving message by message")
    moving = _Move(sqs, queue, max_messages, per_second, progress or (lambda _: None))
    return moving(only)


@dataclass
class _Move:
    sqs: Any
    queue: DeadLetterQueue
    max_messages: int | None
    per_second: float
    progress: Callable[[int], None]

    def __call__(self, only: Collection[str] | None) -> Redrive:
        """Received oldest first; what is not to move is held (not visible) until the end, so
        each receive brings messages not seen yet."""
        held: list[str] = []
        try:
            return self._moved(only, held)
        finally:
            release(self.sqs, self.queue.url, held)

    def _moved(self, only: Collection[str] | None, held: list[str]) -> Redrive:
        sqs, queue, max_messages = self.sqs, self.queue, self.max_messages
        assert queue.source_url is not None
        result = Redrive(method="receive, send, delete")
        # Only what was in the DLQ when the redrive began: a message that fails again and comes
        # back (a new message, sent after this moment) is left for the operator, not looped.
        started_ms = int(time.time() * 1000)
        while max_messages is None or result.moved < max_messages:
            wanted = 10 if max_messages is None else min(10, max_messages - result.moved)
            batch = _receive(sqs, queue.url, wanted, HOLD_SECONDS)
            if not batch:
                break
            staying = [
                m
                for m in batch
                if int(m["Attributes"].get("SentTimestamp", 0)) > started_ms
                or (only is not None and m["MessageId"] not in only)
            ]
            held += [m["ReceiptHandle"] for m in staying]
            for message in [m for m in batch if m not in staying]:
                self._send_back(message)
                result.moved += 1
                result.moved_ids.append(message["MessageId"])
                self.progress(result.moved)
                time.sleep(1 / self.per_second)
        return result

    def _send_back(self, message: dict[str, Any]) -> None:
        queue = self.queue
        assert queue.source_url is not None
        request: dict[str, Any] = {
            "QueueUrl": queue.source_url,
            "MessageBody": message["Body"],
            "MessageAttributes": {
                name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue")}
                for name, attribute in message.get("MessageAttributes", {}).items()
                if name not in FAILURE_ATTRIBUTES
            },
        }
        if queue.fifo:
            request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
            request["MessageDeduplicationId"] = f"redrive-{uuid.uuid4()}"
        self.sqs.send_message(**request)
        self.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
