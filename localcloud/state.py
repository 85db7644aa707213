"""Reading the local cloud's state for summaries: queue depths and dead-letter contents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.cloud import LocalCloud
from orderflow.contracts import MessageAttribute


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    group: str | None
    deliveries: int  # times its consumer received it before it was dead-lettered
    body: str
    reason: str


def dead_letter_queues(cloud: LocalCloud) -> dict[str, str]:
    """Queue name -> URL of every queue that is some queue's dead-letter target."""
    targets = set()
    for resource in cloud.deployment.of_type("AWS::SQS::Queue").values():
        redrive = resource.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            targets.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    return {str(cloud.deployment.value(lid, "QueueName")): str(cloud.deployment.value(lid)) for lid in sorted(targets)}


def peek(cloud: LocalCloud, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, left in place (made visible again at once)."""
    sqs = cloud.client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(100):
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            seen.setdefault(message["MessageId"], message)
    for message in seen.values():
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return list(seen.values())


def dead_letters(cloud: LocalCloud) -> list[DeadLetter]:
    letters = []
    for name, url in dead_letter_queues(cloud).items():
        for message in peek(cloud, url):
            letters.append(
                DeadLetter(
                    queue=name,
                    message_id=message["MessageId"],
                    group=message["Attributes"].get("MessageGroupId"),
                    # A message its consumer dead-lettered itself is a copy whose deduplication
                    # id is the original's message id.
                    deliveries=max(
                        deliveries(cloud, message["MessageId"]),
                        deliveries(cloud, message["Attributes"].get("MessageDeduplicationId", "")),
                    ),
                    body=message["Body"],
                    reason=_reason(cloud, message),
                )
            )
    return letters


def deliveries(cloud: LocalCloud, message_id: str) -> int:
    counts = [
        details["receive_counts"].get(message_id, 0)
        for kind, details in list(cloud.activity.reports)
        if kind == "sqs_batch"
    ]
    return max(counts, default=0)


def _reason(cloud: LocalCloud, message: dict[str, Any]) -> str:
    """The reason a consumer attached when it dead-lettered the message itself, else the last
    failure its consumer logged for it (it went through the redrive policy)."""
    attached = message.get("MessageAttributes", {}).get(MessageAttribute.FAILURE_REASON)
    if attached:
        return str(attached["StringValue"])
    return cloud.activity.failure_reasons.get(message["MessageId"], "no failure recorded")


def messages_per_queue(cloud: LocalCloud) -> dict[str, int]:
    """Messages each consumer received (first deliveries and retries) since start."""
    totals: dict[str, int] = {}
    for kind, details in list(cloud.activity.reports):
        if kind == "sqs_batch":
            totals[details["queue"]] = totals.get(details["queue"], 0) + details["received"]
    return totals


def short(body: str, limit: int = 80) -> str:
    try:
        parsed = json.loads(body)
        text = f"{parsed.get('type', '?')} {parsed.get('subject', '')}" if isinstance(parsed, dict) else body
    except ValueError:
        text = body
    return text if len(text) <= limit else text[: limit - 1] + "…"
