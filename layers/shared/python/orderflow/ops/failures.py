"""Failure destinations: queues that hold a record of what failed rather than the failed message
itself, and how each kind is delivered again.

- A stream batch the relay could not publish after its retries: Lambda records where it was in
  the stream (`DDBStreamBatchInfo`: stream, shard, first and last sequence number), not the
  records. Redriving reads those records from the stream again (it keeps them 24 hours) and
  hands them to the function that failed, as the event source would have.
- An event an EventBridge rule could not deliver to its target after the retry policy: the
  event itself, with the rule and the target in message attributes (`RULE_ARN`, `TARGET_ARN`).
  Redriving delivers it to that target again when the target is a queue (what the rule would
  have sent: the rule sends the event unchanged); other targets are left, named, for a person.

A record that cannot be redriven stays in the queue, with the reason printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderflow.ops.dlq import DeadLetterQueue

STREAM_BATCH = "DDBStreamBatchInfo"
RULE_TARGET_ATTRIBUTE = "TARGET_ARN"


@dataclass
class FailureRedrive:
    redriven: int = 0
    records: int = 0  # stream records handed back to their function
    kept: list[str] = field(default_factory=list)  # why each record left in the queue was left


def describe(message: dict[str, Any]) -> str:
    """What failed, for `dlq show`."""
    attributes = message.get("MessageAttributes", {})
    if RULE_TARGET_ATTRIBUTE in attributes:
        target = attributes[RULE_TARGET_ATTRIBUTE]["StringValue"]
        error = attributes.get("ERROR_MESSAGE", attributes.get("ERROR_CODE", {})).get("StringValue", "failed")
        return f"not delivered to {target}: {error}"
    batch = _batch(message)
    if batch is not None:
        info, function_error = batch
        return (
            f"stream batch of {info.get('batchSize')} record(s), shard {info['shardId']}, "
            f"{info['startSequenceNumber']}..{info['endSequenceNumber']}: {function_error}"
        )
    return "unknown failure record"


def _batch(message: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    if not isinstance(body, dict) or STREAM_BATCH not in body:
        return None
    error = body.get("responseContext", {}).get("functionError") or body.get("requestContext", {}).get("condition")
    return body[STREAM_BATCH], str(error or "retries exhausted")


def redrive(clients: Any, queue: DeadLetterQueue, *, dry_run: bool = False) -> FailureRedrive:
    """Deliver every failure record in `queue` again; delete each one delivered."""
    sqs = clients("sqs")
    result = FailureRedrive()
    seen: set[str] = set()
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        fresh = [message for message in batch if message["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            problem = _deliver(clients, message, result, dry_run=dry_run)
            if problem is not None:
                result.kept.append(f"{message['MessageId']}: {problem}")
                continue
            if not dry_run:
                sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            result.redriven += 1
    return result


def _deliver(clients: Any, message: dict[str, Any], result: FailureRedrive, *, dry_run: bool) -> str | None:
    """Deliver one failure record again; the reason when it cannot be."""
    attributes = message.get("MessageAttributes", {})
    if RULE_TARGET_ATTRIBUTE in attributes:
        return _to_rule_target(clients, message, attributes[RULE_TARGET_ATTRIBUTE]["StringValue"], dry_run=dry_run)
    batch = _batch(message)
    if batch is None:
        return "neither a stream batch nor a rule target's failure: nothing known to redrive it to"
    function = json.loads(message["Body"]).get("requestContext", {}).get("functionArn")
    if not function:
        return "the record does not name the function that failed"
    return _to_function(clients, function, batch[0], result, dry_run=dry_run)


def _to_rule_target(clients: Any, message: dict[str, Any], target: str, *, dry_run: bool) -> str | None:
    if target.split(":")[2] != "sqs":
        return f"the rule's target {target} is not a queue: deliver it by hand (its input may be transformed)"
    if not dry_run:
        sqs = clients("sqs")
        account, name = target.split(":")[4], target.split(":")[5]
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    return None


def _to_function(
    clients: Any, function: str, info: dict[str, Any], result: FailureRedrive, *, dry_run: bool
) -> str | None:
    records = stream_records(clients("dynamodbstreams"), info)
    if not records:
        return f"records {info['startSequenceNumber']}..{info['endSequenceNumber']} are no longer in the stream"
    result.records += len(records)
    if dry_run:
        return None
    answer = clients("lambda").invoke(FunctionName=function, Payload=json.dumps({"Records": records}).encode())
    payload = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        return f"{function} failed again: {payload.get('errorType')}: {payload.get('errorMessage')}"
    failed = payload.get("batchItemFailures") if isinstance(payload, dict) else None
    if failed:
        return f"{function} published up to sequence number {failed[0]['itemIdentifier']} only"
    return None


def stream_records(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of one failed batch, read from the stream again, shaped as the event source
    hands them to the function."""
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except streams.exceptions.TrimmedDataAccessException:
        return []
    records: list[dict[str, Any]] = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator, Limit=100)
        for record in answer["Records"]:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence > end:
                return records
            if sequence >= start:
                records.append(_as_event_record(record, info["streamArn"]))
        if not answer["Records"]:
            break
        iterator = answer.get("NextShardIterator")
    return records


def _as_event_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}
