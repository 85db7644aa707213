"""Event source mappings with Lambda's semantics, instead of moto's (which invokes one record at
a time and ignores partial batch responses).

SQS: receive up to the batch size, invoke, delete what succeeded; what failed stays in the
queue and comes back (the queue's own redrive policy moves it to the DLQ after
`maxReceiveCount` receives). DynamoDB streams: read each shard in order, invoke, retry from
the first failed record, bisect a failing batch, and after the retry budget send the batch's
description to the on-failure destination.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from localcloud.access import denied
from localcloud.provision import REGION, Deployment, EventSourceSpec
from localcloud.runtime import Invocation, LambdaRuntime, TooManyRequests

Client = Callable[..., Any]  # (service, credentials=None) -> a client on the local endpoint
Report = Callable[[str, dict[str, Any]], None]  # (kind, details): what the pollers did
DENIED_BACKOFF_SECONDS = 1.0  # between polls its role may not make
# Between attempts of a throttled invocation, doubling (Lambda backs off by an amount it does
# not document).
THROTTLE_BACKOFF_SECONDS = (0.1, 2.0)  # first wait, longest wait
RELEASE_MARGIN_SECONDS = 1.0  # a batch throttled to the end of its visibility is released this early


class Poller:
    """Polls an event source in `concurrency` threads that scale with the backlog, as Lambda's
    pollers do: the first always polls, and the nth only while n-1 others are delivering work
    they received (so a quiet source costs one poll at a time)."""

    def __init__(
        self,
        *,
        name: str,
        runtime: LambdaRuntime,
        client: Client,
        report: Report,
        concurrency: int = 1,
        role: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._runtime = runtime
        self._client = client  # the operator's: the local cloud's own mechanics
        self._role = role  # the credentials of the role AWS makes the source's calls with
        self._report = report
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(slot,), name=f"poller-{name}-{slot}", daemon=True)
            for slot in range(max(1, concurrency))
        ]
        self._state = threading.Condition()
        self._polling = 0  # threads inside a poll (receiving, or delivering what they received)
        self._working = 0  # threads delivering work they received
        self._received = threading.local()
        self._paused = threading.Event()
        self._throttled = 0  # threads retrying a throttled invocation
        self.idle = threading.Event()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._state:
            self._state.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def pause(self) -> None:
        """Stop taking new work; returns once the polls in progress (if any) have finished."""
        self._paused.set()
        with self._state:
            self._state.wait_for(lambda: self._polling == 0)

    def resume(self) -> None:
        self._paused.clear()
        with self._state:
            self._state.notify_all()

    def _run(self, slot: int) -> None:
        while not self._stop.is_set():
            with self._state:
                # Throttled, Lambda gives the source less concurrency: only the first thread polls.
                if self._paused.is_set() or self._working < slot or (slot and self._throttled):
                    self._state.wait(0.05)
                    continue
                self._polling += 1
            self._received.work = False
            try:
                worked = self.poll_once()
            except ClientError as error:
                if not denied(error):
                    self._report("poller_error", {"source": self.name, "error": repr(error)})
                worked = False  # a denial is reported where it was made; Lambda keeps polling,
                self._stop.wait(DENIED_BACKOFF_SECONDS)  # less often
            except Exception as error:  # keep polling, like the Lambda service does
                self._report("poller_error", {"source": self.name, "error": repr(error)})
                worked = False
            with self._state:
                self._polling -= 1
                if self._received.work:
                    self._working -= 1
                if worked:
                    self.idle.clear()
                elif self._polling == 0:
                    self.idle.set()
                self._state.notify_all()
            if not worked:
                self._stop.wait(0.05)

    def poll_once(self) -> bool:
        raise NotImplementedError

    def _as_role(self, service: str) -> Any:
        """A client making the calls AWS makes with the source's role (checked against it)."""
        return self._client(service, credentials=self._role)

    def _invoke_until(
        self, function_name: str, event: Any, deadline: Callable[[], float], delay: float = 0.0
    ) -> Invocation | None:
        """Invoke as a mapping does: a throttled invocation is tried again, backing off, until
        `deadline()` (a time.time(), asked only once throttled); None if it never ran.
        Meanwhile the source polls less."""
        wait = THROTTLE_BACKOFF_SECONDS[0]
        throttled = False
        try:
            while True:
                try:
                    return self._runtime.invoke(function_name, event, delay=delay)
                except TooManyRequests as throttle:
                    if not throttled:
                        throttled = True
                        with self._state:
                            self._throttled += 1
                    self._report(
                        "throttled", {"source": self.name, "function": function_name, "reason": throttle.reason}
                    )
                    remaining = deadline() - time.time()
                    if remaining <= 0 or self._stop.wait(min(wait, remaining)) or time.time() >= deadline():
                        return None
                    wait = min(2 * wait, THROTTLE_BACKOFF_SECONDS[1])
        finally:
            if throttled:
                with self._state:
                    self._throttled -= 1
                    self._state.notify_all()

    def _invoke_copy(self, function_name: str, event: Any) -> None:
        """A duplicate delivery (an injected fault): a throttled one is simply not delivered."""
        with contextlib.suppress(TooManyRequests):
            self._runtime.invoke(function_name, event)

    def _received_work(self) -> None:
        """Called by a poll as soon as it has work: busy from now (a long delivery must not look
        idle), and the next thread may poll beside it."""
        if getattr(self._received, "work", False):
            return
        self._received.work = True
        with self._state:
            self._working += 1
            self.idle.clear()
            self._state.notify_all()

    def _strikes(self, kind: str, function_name: str, *, returning: bool = False) -> Any:
        """Whether an injected fault of this kind hits this delivery (see `localcloud.faults`);
        with `returning`, the fault itself (or None)."""
        faults = self._runtime.faults
        fault = faults.roll(kind, self._runtime.functions[function_name].logical_id) if faults.active else None
        return fault if returning else fault is not None


def _failed_ids(invocation: Invocation, spec: EventSourceSpec, all_ids: list[str]) -> list[str]:
    """Ids Lambda treats as failed: all of them on an error; those reported, with
    `ReportBatchItemFailures`; all of them when the report is malformed."""
    if invocation.failed:
        return all_ids
    if not spec.report_batch_item_failures or not isinstance(invocation.result, dict):
        return []
    failures = invocation.result.get("batchItemFailures") or []
    try:
        reported = [str(failure["itemIdentifier"]) for failure in failures]
    except (KeyError, TypeError):
        return all_ids
    if any(item not in all_ids for item in reported):
        return all_ids
    return reported


def reordered(
    messages: list[dict[str, Any]], choose: Callable[[list[Any]], Any] = random.choice
) -> list[dict[str, Any]]:
    """The messages shuffled as far as SQS allows: a FIFO group's messages keep their order,
    the groups interleave at random (`choose` picks the next group: a fault plan's seeded
    choice makes a run reproducible); a standard queue's messages in any order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        group = message.get("Attributes", {}).get("MessageGroupId") or message["MessageId"]
        groups.setdefault(group, []).append(message)
    queues = list(groups.values())
    shuffled: list[dict[str, Any]] = []
    while queues:
        queue = choose(queues)
        shuffled.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return shuffled


class SqsPoller(Poller):
    def __init__(self, spec: EventSourceSpec, *, queue_url: str, retry_delay_seconds: int, **kwargs: Any) -> None:
        super().__init__(name=spec.logical_id, **kwargs)
        self.spec = spec
        self._queue_url = queue_url
        self._retry_delay = retry_delay_seconds
        self._sqs = self._as_role("sqs")  # receive and delete, as the mapping does with the function's role
        self._local_sqs = self._client("sqs")  # releases and copies: time passing, SQS's duplicates
        self._visibility_timeout: int | None = None  # the queue's, read when first needed

    def poll_once(self) -> bool:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self.spec.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        self._received_work()
        if self._strikes("reorder", self.spec.function_name):
            logical_id = self._runtime.functions[self.spec.function_name].logical_id
            messages = reordered(messages, partial(self._runtime.faults.choice, stream=logical_id))
        event = {"Records": [self._record(message) for message in messages]}
        started = time.time()
        slow = self._strikes("visibility_timeout", self.spec.function_name, returning=True)
        if slow:
            # A batch slower than its visibility timeout: the messages become visible while it
            # still runs, another environment receives them, and this one's delete (with the
            # old receipt handles) leaves them.
            self._release(messages)
        # A throttled batch is tried again until its visibility timeout runs out; then Lambda
        # lets it go and SQS delivers it again, one receive more (Lambda Developer Guide,
        # "Handling errors for an SQS event source"). Locally it is released a moment before,
        # together and in order, while its receipt handles still hold (see `_release`).
        invocation = self._invoke_until(
            self.spec.function_name,
            event,
            deadline=lambda: started + self._queue_visibility_timeout() - RELEASE_MARGIN_SECONDS,
            delay=slow.seconds if slow else 0.0,
        )
        ids = [message["MessageId"] for message in messages]
        if invocation is None:
            self._release(messages)
            self._report("sqs_batch_throttled", {"source": self.spec.logical_id, "message_ids": ids})
            return True
        ended = time.time()
        failed = set(_failed_ids(invocation, self.spec, ids))
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        if done and self._strikes("duplicate", self.spec.function_name):
            # At-least-once: what was just processed arrives again.
            self._invoke_copy(self.spec.function_name, {"Records": [self._record(m) for m in done]})
        late = self._strikes("late_duplicate", self.spec.function_name, returning=True) if done else None
        if late:
            # ... or arrives again later, after messages that came behind it.
            later = threading.Timer(late.seconds, self._send_copies, args=(done,))
            later.daemon = True
            later.start()
        retry = [message for message in messages if message["MessageId"] in failed]
        if retry:
            timer = threading.Timer(self._retry_delay, self._release_reporting, args=(retry,))
            timer.daemon = True
            timer.start()
        self._report(
            "sqs_batch",
            {
                "source": self.spec.logical_id,
                "function": self.spec.function_name,
                "queue": self.spec.source_arn.rsplit(":", 1)[-1],
                "received": len(messages),
                "message_ids": ids,
                "groups": {m["MessageId"]: m["Attributes"].get("MessageGroupId") for m in messages},
                "failed": sorted(failed),
                "receive_counts": {m["MessageId"]: int(m["Attributes"]["ApproximateReceiveCount"]) for m in messages},
                "error": invocation.error,
                "environment": invocation.environment,
                "outlasted_visibility": slow is not None,
                "started": started,
                "ended": ended,
                "duration_ms": invocation.duration_ms,  # the handler's own run
            },
        )
        return True

    def _queue_visibility_timeout(self) -> int:
        if self._visibility_timeout is None:
            answer = self._local_sqs.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=["VisibilityTimeout"]
            )
            self._visibility_timeout = int(answer["Attributes"]["VisibilityTimeout"])
        return self._visibility_timeout

    def _release_reporting(self, messages: list[dict[str, Any]]) -> None:
        """`_release` on a timer's thread: a failure is reported (else the messages would stay
        invisible for the whole visibility timeout, unexplained)."""
        try:
            self._release(messages)
        except Exception as error:
            self._report("poller_error", {"source": self.name, "error": f"release failed: {error!r}"})

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make failed messages visible again, together and in their order.

        Lambda leaves them until the visibility timeout (minutes) expires; locally they come back
        after `retry_delay_seconds`. Releasing them in one call also corrects moto, which after a
        visibility timeout can return part of a FIFO group, or return it out of order.
        """
        if self._stop.is_set():
            return
        self._local_sqs.change_message_visibility_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(messages)
            ],
        )

    def _send_copies(self, messages: list[dict[str, Any]]) -> None:
        """Send these messages to the queue again, as new messages (a FIFO queue keeps each in
        its group, under a deduplication id of its own)."""
        if self._stop.is_set():
            return
        for message in messages:
            attributes = message.get("Attributes", {})
            copy: dict[str, Any] = {"QueueUrl": self._queue_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                copy["MessageAttributes"] = {
                    name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue")}
                    for name, attribute in message["MessageAttributes"].items()
                }
            if "MessageGroupId" in attributes:
                copy["MessageGroupId"] = attributes["MessageGroupId"]
                copy["MessageDeduplicationId"] = f"late-{message['MessageId']}"
            self._local_sqs.send_message(**copy)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.spec.source_arn,
            "awsRegion": REGION,
        }


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """Lambda event filtering for the pattern forms the stack uses: exact values (a list of
    allowed values) and nested objects."""
    for key, expected in pattern.items():
        actual = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not matches(expected, actual):
                return False
        elif actual not in expected:
            return False
    return True


class StreamPoller(Poller):
    """Reads each shard after the last record it delivered (moto's transactions are made
    isolated by `moto_fixes`, so every record read is one of a committed write)."""

    def __init__(
        self,
        spec: EventSourceSpec,
        *,
        deployment: Deployment,
        retry_delay_seconds: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=spec.logical_id, **kwargs)
        self.spec = spec
        self._streams = self._as_role("dynamodbstreams")
        self._deployment = deployment
        self._retry_delay = retry_delay_seconds
        self._last_delivered: dict[str, str] = {}  # shard id -> sequence number

    def poll_once(self) -> bool:
        shards = self._streams.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]["Shards"]
        worked = False
        for shard in shards:
            shard_id = shard["ShardId"]
            read = self._read(shard_id)
            if not read:
                continue
            self._last_delivered[shard_id] = read[-1]["dynamodb"]["SequenceNumber"]
            records = [self._lambda_record(record) for record in read]
            records = [r for r in records if not self.spec.filters or any(matches(p, r) for p in self.spec.filters)]
            if records:
                worked = True
                self._received_work()
                self._deliver(shard_id, records, attempt=0)
        return worked

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        position: dict[str, Any] = {"ShardIteratorType": self.spec.starting_position or "TRIM_HORIZON"}
        if shard_id in self._last_delivered:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last_delivered[shard_id]}
        iterator = self._streams.get_shard_iterator(StreamArn=self.spec.source_arn, ShardId=shard_id, **position)
        answer = self._streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=self.spec.batch_size)
        return list(answer["Records"])

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": self.spec.source_arn,
        }

    def _deliver(self, shard_id: str, records: list[dict[str, Any]], attempt: int) -> None:
        while records:
            expired = self._expired(records)
            if expired:
                # Older than the mapping's MaximumRecordAgeInSeconds: discarded, as Lambda does,
                # with their description sent to the on-failure destination.
                self._send_to_on_failure(shard_id, records[:expired], None, condition="RecordAgeExceeded")
                records = records[expired:]
                continue
            # What CloudWatch's IteratorAge measures: from the last record's creation to its read.
            created = records[-1]["dynamodb"].get("ApproximateCreationDateTime")
            iterator_age_ms = max(0.0, (time.time() - float(created)) * 1000) if created else 0.0
            # Throttled, Lambda tries the batch again (not one of its retry attempts) until its
            # records are older than the mapping's maximum record age.
            invocation = self._invoke_until(
                self.spec.function_name, {"Records": records}, partial(self._age_deadline, records)
            )
            if invocation is None:
                if self._stop.is_set():
                    return
                continue  # expired meanwhile: discarded at the top of the loop
            sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
            failed = _failed_ids(invocation, self.spec, sequence)
            self._report(
                "stream_batch",
                {
                    "source": self.spec.logical_id,
                    "function": self.spec.function_name,
                    "records": len(records),
                    "failed": failed,
                    "attempt": attempt,
                    "error": invocation.error,
                    "iterator_age_ms": iterator_age_ms,
                },
            )
            if not failed:
                if self._strikes("duplicate", self.spec.function_name):
                    self._invoke_copy(self.spec.function_name, {"Records": records})  # delivered again
                return
            if invocation.failed and self.spec.bisect_on_error and len(records) > 1:
                half = len(records) // 2
                self._deliver(shard_id, records[:half], attempt + 1)
                self._deliver(shard_id, records[half:], attempt + 1)
                return
            # Retry from the first failed record (the checkpoint), like Lambda does.
            records = records[min(sequence.index(item) for item in failed) :]
            attempt += 1
            if 0 <= self.spec.retry_attempts < attempt:
                self._send_to_on_failure(shard_id, records, invocation)
                return
            time.sleep(self._retry_delay)

    def _age_deadline(self, records: list[dict[str, Any]]) -> float:
        """When the batch's first record becomes older than the maximum record age."""
        created = records[0]["dynamodb"].get("ApproximateCreationDateTime")
        if self.spec.max_record_age_seconds < 0 or not isinstance(created, int | float):
            return float("inf")
        return created + self.spec.max_record_age_seconds

    def _expired(self, records: list[dict[str, Any]]) -> int:
        """How many records at the head of the batch are older than the mapping's maximum record
        age (stream order: the oldest come first); 0 when it has none (-1: never)."""
        if self.spec.max_record_age_seconds < 0:
            return 0
        oldest_kept = time.time() - self.spec.max_record_age_seconds
        count = 0
        for record in records:
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if not isinstance(created, int | float) or created >= oldest_kept:
                break
            count += 1
        return count

    def _send_to_on_failure(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        invocation: Invocation | None,
        *,
        condition: str = "RetryAttemptsExhausted",
    ) -> None:
        destination = self.spec.on_failure_arn
        response = {}
        if invocation is not None:
            response = {"functionError": (invocation.error or {}).get("errorType", "PartialBatchFailure")}
        details = {
            "requestContext": {
                "functionArn": self._runtime.functions[self.spec.function_name].arn,
                "condition": condition,
                "approximateInvokeCount": self.spec.retry_attempts + 1 if invocation is not None else 0,
            },
            "responseContext": response,
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": self.spec.source_arn,
            },
        }
        sent = False
        if destination:
            # Lambda sends it with the function's role: the role must be allowed to.
            try:
                self._as_role("sqs").send_message(
                    QueueUrl=self._deployment.queue_urls[destination], MessageBody=json.dumps(details)
                )
                sent = True
            except ClientError as error:
                if not denied(error):
                    raise
        report = {"source": self.spec.logical_id, "destination": destination, "sent": sent, **details}
        self._report("stream_batch_discarded", report)
