"""Reading the local cloud's state for summaries: queue depths and dead-letter contents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.cloud import LocalCloud
from orderflow.contracts import MessageAttribute
from orderflow.ops import dlq, failures
from orderflow.ops.failures import RULE_TARGET_ATTRIBUTE


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    group: str | None
    deliveries: int  # times its consumer received it before it was dead-lettered
    body: str
    reason: str


def dead_letter_queues(cloud: LocalCloud) -> list[str]:
    """The names of every DLQ and failure destination (as the operator CLI finds them)."""
    return [queue.name for queue in dlq.dead_letter_queues(cloud.client("sqs"))]


def dead_letters(cloud: LocalCloud) -> list[DeadLetter]:
    sqs = cloud.client("sqs")
    letters = []
    for queue in dlq.dead_letter_queues(sqs):
        for letter in dlq.show(sqs, queue, reason_for=lambda message: reason(cloud, message)):
            # A message its consumer dead-lettered itself is a copy whose deduplication id is
            # the original's message id.
            received = max(deliveries(cloud, letter.message_id), deliveries(cloud, letter.deduplication_id or ""))
            letters.append(
                DeadLetter(
                    queue=queue.name,
                    message_id=letter.message_id,
                    group=letter.group,
                    deliveries=received,
                    body=letter.body,
                    reason=letter.reason,
                )
            )
    return letters


def deliveries(cloud: LocalCloud, message_id: str) -> int:
    """How many times a consumer received the message (from the pollers' reports)."""
    counts = [
        details["receive_counts"].get(message_id, 0)
        for kind, details in list(cloud.activity.reports)
        if kind == "sqs_batch"
    ]
    return max(counts, default=0)


def reason(cloud: LocalCloud, message: dict[str, Any]) -> str:
    """The reason a consumer attached when it dead-lettered the message itself, else the last
    failure its consumer logged for it (it went through the redrive policy), else the error of
    the last invocation that failed its whole batch, else what a failure record says (an
    undelivered rule event, a failed stream batch)."""
    attached = message.get("MessageAttributes", {}).get(MessageAttribute.FAILURE_REASON)
    if attached:
        return str(attached["StringValue"])
    undelivered = message.get("MessageAttributes", {}).get("ERROR_MESSAGE")
    if undelivered and RULE_TARGET_ATTRIBUTE not in message.get("MessageAttributes", {}):
        return f"not delivered by the topic: {undelivered['StringValue']}"
    logged = cloud.activity.failure_reasons.get(message["MessageId"])
    if logged:
        return logged
    failed_whole = [
        details["error"]
        for kind, details in list(cloud.activity.reports)
        if kind == "sqs_batch" and details.get("error") and message["MessageId"] in details["message_ids"]
    ]
    if failed_whole:  # the invocation failed before the function could report the record
        error = failed_whole[-1]
        return f"{error.get('errorType')}: {error.get('errorMessage')} (the function failed the whole batch)"
    described = failures.describe(message)  # a rule target's or a stream's failure record
    return described if described != failures.UNKNOWN else "no failure recorded"


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
