"""Redrive of chosen messages from the stack's FIFO DLQ (the local page's console uses it): only
they move back to the source queue, in order within their group, and the others stay, visible."""

from __future__ import annotations

import uuid

import boto3

from orderflow.ops import dlq
from tests.support.aws import REGION, Resources


def _send(sqs: object, url: str, group: str, body: str) -> str:
    answer = sqs.send_message(  # type: ignore[attr-defined]
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=str(uuid.uuid4())
    )
    return str(answer["MessageId"])


def _bodies(sqs: object, url: str) -> list[str]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):  # type: ignore[attr-defined]
        for message in batch:
            messages.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]
    return messages


def test_only_the_chosen_messages_move_and_in_their_groups_order(aws: Resources) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = dlq.find(sqs, "OrderHistoryDeadLetter")
    first = _send(sqs, queue.url, "order-a", "a1")
    second = _send(sqs, queue.url, "order-a", "a2")
    third = _send(sqs, queue.url, "order-a", "a3")
    other = _send(sqs, queue.url, "order-b", "b1")

    result = dlq.redrive(sqs, queue, only={second, third, other}, per_second=1000)

    assert result.moved == 3
    assert sorted(result.moved_ids) == sorted([second, third, other])
    back = _bodies(sqs, aws.history_queue_url)
    assert sorted(back) == ["a2", "a3", "b1"]
    assert [body for body in back if body.startswith("a")] == ["a2", "a3"]  # in their group's order
    assert [letter.message_id for letter in dlq.show(sqs, queue)] == [first]  # visible at once, for the next look


def test_a_redrive_of_everything_still_moves_everything(aws: Resources) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = dlq.find(sqs, "OrderHistoryDeadLetter")
    for body in ("a1", "a2"):
        _send(sqs, queue.url, "order-a", body)

    assert dlq.redrive(sqs, queue, per_second=1000).moved == 2
    assert _bodies(sqs, aws.history_queue_url) == ["a1", "a2"]
