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

A record that cannot be redriven stays in the queue, with the reason printed. A stream batch
the function published only part of is replaced by a record of what is left.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orderflow.ops.dlq import DeadLetterQueue, release

STREAM_BATCH = "DDBStreamBatchInfo"
RULE_TARGET_ATTRIBUTE = "TARGET_ARN"


HOLD_SECONDS = 900  # how long a record received by a run stays invisible, unless the run ends first


@dataclass
class FailureRedrive:
    redriven: int = 0
    records: int = 0  # stream records handed back to their function and published
    kept: list[str] = field(default_factory=list)  # why each record left in the queue was left
    replaced: int = 0  # of those kept, batches partly published: a new record holds the rest


@dataclass(frozen=True)
class _Outcome:
    problem: str | None = None  # why the record was not (wholly) delivered
    replaced: bool = False  # what is left of it was sent as a new record: the old one goes


DELIVERED = _Outcome()


UNKNOWN = "unknown failure record"


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
    return UNKNOWN


def _batch(message: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    if not isinstance(body, dict) or STREAM_BATCH not in body:
        return None
    error = body.get("responseContext", {}).get("functionError") or body.get("requestContext", {}).get("condition")
    return body[STREAM_BATCH], str(error or "retries exhausted")


def redrive(
    clients: Any,
    queue: DeadLetterQueue,
    *,
    dry_run: bool = False,
    max_records: int | None = None,
    per_second: float = 50.0,
) -> FailureRedrive:
    """Deliver the failure records in `queue` again (at most `max_records`, `per_second`);
    delete each one delivered. A record that cannot be is kept, with the reason; it and every
    record of a dry run are made visible again at the end, however the run ends.

    A record this run sends in place of a partly published batch is left for the next run.
    Every record received is held (invisible) until the end, so none comes back during the run,
    and the run ends when a long poll finds nothing visible (a standard queue answers from a
    sample of its servers; a long poll asks them all: SQS, "short and long polling")."""
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    sqs = clients("sqs")
    result = FailureRedrive()
    seen: set[str] = set()
    held: list[str] = []  # receipt handles of the records that stay
    try:
        while max_records is None or result.redriven + len(result.kept) < max_records:
            batch = sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=HOLD_SECONDS,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                done = max_records is not None and result.redriven + len(result.kept) >= max_records
                if done or message["MessageId"] in seen:
                    held.append(message["ReceiptHandle"])
                    continue
                seen.add(message["MessageId"])
                held.append(message["ReceiptHandle"])  # until it is deleted: a failure leaves it visible
                if _redrive_one(clients, queue, message, result, seen, dry_run=dry_run):
                    sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=held.pop())
                time.sleep(1 / per_second)
    finally:
        release(sqs, queue.url, held)
    return result


def _redrive_one(
    clients: Any,
    queue: DeadLetterQueue,
    message: dict[str, Any],
    result: FailureRedrive,
    seen: set[str],
    *,
    dry_run: bool,
) -> bool:
    """Deliver one record again; whether it leaves the queue (delivered, or replaced by what
    is left of it)."""
    try:
        outcome = _deliver(clients, queue, message, result, seen, dry_run=dry_run)
    except (BotoCoreError, ClientError, KeyError, TypeError, ValueError) as error:
        outcome = _Outcome(f"{type(error).__name__}: {error}")
    if outcome.problem is not None:
        result.kept.append(f"{message['MessageId']}: {outcome.problem}")
        result.replaced += outcome.replaced
    else:
        result.redriven += 1
    return not dry_run and (outcome.problem is None or outcome.replaced)


def _deliver(
    clients: Any,
    queue: DeadLetterQueue,
    message: dict[str, Any],
    result: FailureRedrive,
    seen: set[str],
    *,
    dry_run: bool,
) -> _Outcome:
    """Deliver one failure record again."""
    attributes = message.get("MessageAttributes", {})
    if RULE_TARGET_ATTRIBUTE in attributes:
        return _to_rule_target(clients, message, attributes[RULE_TARGET_ATTRIBUTE]["StringValue"], dry_run=dry_run)
    batch = _batch(message)
    if batch is None:
        return _Outcome("neither a stream batch nor a rule target's failure: nothing known to redrive it to")
    body = json.loads(message["Body"])
    function = body.get("requestContext", {}).get("functionArn")
    if not function:
        return _Outcome("the record does not name the function that failed")
    return _to_function(clients, queue, body, function=function, result=result, seen=seen, dry_run=dry_run)


def _to_function(
    clients: Any,
    queue: DeadLetterQueue,
    body: dict[str, Any],
    *,
    function: str,
    result: FailureRedrive,
    seen: set[str],
    dry_run: bool,
) -> _Outcome:
    """The failed batch's records, read from the stream again, handed to `function`."""
    info = body[STREAM_BATCH]
    records = stream_records(clients("dynamodbstreams"), info)
    if not records:
        first, last = info["startSequenceNumber"], info["endSequenceNumber"]
        return _Outcome(f"records {first}..{last} are no longer in the stream")
    if dry_run:
        result.records += len(records)
        return DELIVERED
    answer = clients("lambda").invoke(FunctionName=function, Payload=json.dumps({"Records": records}).encode())
    payload = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        return _Outcome(f"{function} failed again: {payload.get('errorType')}: {payload.get('errorMessage')}")
    failed = payload.get("batchItemFailures") if isinstance(payload, dict) else None
    if not failed:
        result.records += len(records)
        return DELIVERED
    # The function published the records before the first failed one (the lowest reported, as
    # Lambda resumes a stream there): what is left is recorded again as a failure record of its
    # own, starting there, and the old record goes (redriving it whole would hand the published
    # records to the function once more).
    first_failed = str(min(int(failure["itemIdentifier"]) for failure in failed))
    remaining = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(first_failed)]
    result.records += len(records) - len(remaining)
    body[STREAM_BATCH] = {**info, "startSequenceNumber": first_failed, "batchSize": len(remaining)}
    sent = clients("sqs").send_message(QueueUrl=queue.url, MessageBody=json.dumps(body))
    seen.add(sent["MessageId"])
    return _Outcome(
        f"{function} published up to sequence number {first_failed} only: the {len(remaining)} record(s) "
        f"from there are kept as failure record {sent['MessageId']}",
        replaced=True,
    )


def _to_rule_target(clients: Any, message: dict[str, Any], target: str, *, dry_run: bool) -> _Outcome:
    if target.split(":")[2] != "sqs":
        return _Outcome(f"the rule's target {target} is not a queue: deliver it by hand (its input may be transformed)")
    if not dry_run:
        sqs = clients("sqs")
        account, name = target.split(":")[4], target.split(":")[5]
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    return DELIVERED


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
