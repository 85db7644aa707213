"""Redrive of the stack's failure destinations on moto: events the start-saga rule could not
deliver go back to its target queue; failed batches of the outbox stream are read again from the
stream and handed to the relay. Lambda cannot run code on moto here (no Docker), so the function
is a stand-in for Lambda's `Invoke` API that answers as the relay would; everything else is the
stack on moto."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from orderflow.contracts import Key, Service
from orderflow.ops import dlq, failures
from orderflow.ops.__main__ import main
from tests.support.aws import REGION, Resources


@dataclass
class Relay:
    """Lambda's `Invoke`, answering for the relay: each call's records are kept; `fail_from`
    reports the record at that position, and those after it, as not published; `error` fails
    the invocation."""

    arn: str
    fail_from: int | None = None
    error: str | None = None
    batches: list[list[str]] = field(default_factory=list)

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        assert FunctionName == self.arn
        records = json.loads(Payload)["Records"]
        self.batches.append([record["dynamodb"]["SequenceNumber"] for record in records])
        if self.error:
            answer: dict[str, Any] = {"errorType": self.error, "errorMessage": "the bus is unreachable"}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(answer).encode())}
        failed = [] if self.fail_from is None else [records[self.fail_from]["dynamodb"]["SequenceNumber"]]
        answer = {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@dataclass
class Setup:
    relay: Relay
    rule_arn: str
    failures_url: str
    target_url: str
    target_arn: str
    stream_arn: str
    shard_id: str
    sequences: list[str]

    def clients(self, service: str) -> Any:
        return self.relay if service == "lambda" else boto3.client(service, region_name=REGION)

    @property
    def queue(self) -> dlq.DeadLetterQueue:
        return dlq.find(boto3.client("sqs", region_name=REGION), "RelayFailures")

    def visible(self, url: str) -> int:
        attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def bodies(self, url: str) -> list[str]:
        sqs = boto3.client("sqs", region_name=REGION)
        return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]

    def rule_failure(self, event: dict[str, Any], target_arn: str | None = None) -> None:
        """What EventBridge sends to a rule's dead-letter queue: the event, with the rule, the
        target and the error in message attributes."""

        def text(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        boto3.client("sqs", region_name=REGION).send_message(
            QueueUrl=self.failures_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RULE_ARN": text(self.rule_arn),
                "TARGET_ARN": text(target_arn or self.target_arn),
                "ERROR_CODE": text("SQS.AccessDeniedException"),
                "ERROR_MESSAGE": text("denied"),
            },
        )

    def stream_failure(self, first: int, last: int) -> None:
        """What Lambda sends to a stream's on-failure destination: where the batch was."""
        record = {
            "requestContext": {"functionArn": self.relay.arn, "condition": "RetryAttemptsExhausted"},
            "responseContext": {"functionError": "Unhandled"},
            failures.STREAM_BATCH: {
                "shardId": self.shard_id,
                "startSequenceNumber": self.sequences[first],
                "endSequenceNumber": self.sequences[last],
                "batchSize": last - first + 1,
                "streamArn": self.stream_arn,
            },
        }
        boto3.client("sqs", region_name=REGION).send_message(QueueUrl=self.failures_url, MessageBody=json.dumps(record))


@pytest.fixture
def setup(aws: Resources) -> Setup:
    """The relay's failure destination with three records on the outbox stream, and the
    start-saga rule with its target queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    target_url = aws.saga_starts_queue_url
    target_arn = sqs.get_queue_attributes(QueueUrl=target_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    (rule_arn,) = [rule.arn for rule in aws.deployment.rules if any(t.arn == target_arn for t in rule.targets)]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for n in range(3):
        dynamodb.put_item(TableName=aws.outbox_table, Item={Key.EVENT_ID: {"S": f"event-{n}"}})
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    stream_arn = aws.outbox_stream_arn
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
    assert len(sequences) == 3
    relay = Relay(aws.function_arn(Service.OUTBOX_RELAY))
    failures_url = aws.queue_url("BackboneRelayFailures")
    return Setup(relay, rule_arn, failures_url, target_url, target_arn, stream_arn, shard_id, sequences)


def test_an_event_a_rule_could_not_deliver_goes_back_to_its_target_queue(setup: Setup) -> None:
    event = {"detail-type": "OrderCreated", "detail": {"order_id": "order-1"}}
    setup.rule_failure(event)

    outcome = failures.redrive(setup.clients, setup.queue)

    assert (outcome.redriven, outcome.kept) == (1, [])
    assert [json.loads(body) for body in setup.bodies(setup.target_url)] == [event]
    assert setup.visible(setup.failures_url) == 0


def test_an_event_whose_target_queue_is_gone_is_kept_visible_with_the_reason(setup: Setup) -> None:
    setup.rule_failure({"detail-type": "OrderCreated"}, target_arn=f"arn:aws:sqs:{REGION}:123456789012:deleted-queue")

    outcome = failures.redrive(setup.clients, setup.queue)

    assert outcome.redriven == 0
    (reason,) = outcome.kept
    assert "QueueDoesNotExist" in reason
    assert setup.visible(setup.failures_url) == 1  # at once, for `dlq show` and the next try


def test_a_dry_run_delivers_nothing_and_leaves_every_record_visible(setup: Setup) -> None:
    setup.rule_failure({"detail-type": "OrderCreated"})
    setup.stream_failure(0, 2)

    outcome = failures.redrive(setup.clients, setup.queue, dry_run=True)

    assert (outcome.redriven, outcome.records, outcome.kept) == (2, 3, [])
    assert setup.relay.batches == []
    assert setup.visible(setup.target_url) == 0
    assert setup.visible(setup.failures_url) == 2


def test_at_most_max_records_are_redriven(setup: Setup) -> None:
    for n in range(3):
        setup.rule_failure({"detail-type": "OrderCreated", "n": n})

    outcome = failures.redrive(setup.clients, setup.queue, max_records=2)

    assert outcome.redriven == 2
    assert setup.visible(setup.target_url) == 2
    assert setup.visible(setup.failures_url) == 1


def test_a_failed_stream_batch_is_read_again_and_handed_to_its_function(setup: Setup) -> None:
    setup.stream_failure(0, 2)

    outcome = failures.redrive(setup.clients, setup.queue)

    assert (outcome.redriven, outcome.records, outcome.kept) == (1, 3, [])
    assert setup.relay.batches == [setup.sequences]
    assert setup.visible(setup.failures_url) == 0


def test_a_function_that_fails_again_keeps_its_record(setup: Setup) -> None:
    setup.stream_failure(0, 2)
    setup.relay.error = "ServiceUnavailable"

    outcome = failures.redrive(setup.clients, setup.queue)

    assert outcome.redriven == 0
    assert "failed again: ServiceUnavailable" in outcome.kept[0]
    assert setup.visible(setup.failures_url) == 1


def test_a_partly_published_batch_leaves_a_record_of_what_is_left_only(setup: Setup) -> None:
    """The function published the first record and reported the second as failed: a redrive of
    the old record would hand the first to it again, so what is left replaces it."""
    setup.stream_failure(0, 2)
    setup.relay.fail_from = 1

    first = failures.redrive(setup.clients, setup.queue)
    setup.relay.fail_from = None
    second = failures.redrive(setup.clients, setup.queue)

    assert "the 2 record(s) from there are kept" in first.kept[0]
    assert (first.replaced, first.records) == (1, 1)  # one record published, two left
    assert (second.redriven, second.kept, second.records) == (1, [], 2)
    assert setup.relay.batches == [setup.sequences, setup.sequences[1:]]
    assert setup.visible(setup.failures_url) == 0


def test_records_kept_that_come_back_during_a_long_run_do_not_end_it_early(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that outlasts its hold sees the records it kept again: it holds them again and
    goes on to the records it has not handled yet."""
    monkeypatch.setattr(failures, "HOLD_SECONDS", 2)
    gone = f"arn:aws:sqs:{REGION}:123456789012:deleted-queue"
    for n in range(12):
        setup.rule_failure({"detail-type": "OrderCreated", "n": n}, target_arn=gone)
    for n in range(5):
        setup.rule_failure({"detail-type": "OrderCreated", "n": 100 + n})

    outcome = failures.redrive(setup.clients, setup.queue, per_second=4)  # about 4 s: twice the hold

    assert (outcome.redriven, len(outcome.kept)) == (5, 12)
    assert setup.visible(setup.target_url) == 5
    assert setup.visible(setup.failures_url) == 12


def test_records_held_by_a_run_that_fails_are_made_visible_again(setup: Setup) -> None:
    setup.rule_failure({"detail-type": "OrderCreated"}, target_arn=f"arn:aws:sqs:{REGION}:123456789012:deleted-queue")
    setup.rule_failure({"detail-type": "OrderCreated"})

    class Broken:
        """SQS whose delete fails: the run ends with an error after it held a record."""

        def __init__(self, sqs: Any) -> None:
            self._sqs = sqs

        def __getattr__(self, name: str) -> Any:
            if name == "delete_message":
                raise ConnectionError("the network went away")
            return getattr(self._sqs, name)

    sqs = boto3.client("sqs", region_name=REGION)

    def clients(service: str) -> Any:
        return Broken(sqs) if service == "sqs" else setup.clients(service)

    with pytest.raises(ConnectionError):
        failures.redrive(clients, setup.queue)

    assert setup.visible(setup.failures_url) == 2  # nothing deleted, nothing left hidden


def test_the_cli_refuses_a_rate_or_max_that_is_not_positive(capsys: pytest.CaptureFixture[str]) -> None:
    for argument in ("--rate=0", "--max=0", "--rate=-1"):
        with pytest.raises(SystemExit):
            main(["dlq", "redrive", "RelayFailures", argument])
        assert "must be more than 0" in capsys.readouterr().err


def test_the_cli_exits_non_zero_when_a_record_is_kept(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    setup.rule_failure({"detail-type": "OrderCreated"}, target_arn=f"arn:aws:sqs:{REGION}:123456789012:deleted-queue")
    setup.rule_failure({"detail-type": "OrderCreated"})

    status = main(["dlq", "redrive", "RelayFailures", "--rate", "100"])

    output = capsys.readouterr().out
    assert status == 1
    assert "redrove 1 failure record(s)" in output
    assert "kept " in output
    assert "QueueDoesNotExist" in output


def test_the_cli_exits_zero_when_every_record_is_redriven(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    setup.rule_failure({"detail-type": "OrderCreated"})

    assert main(["dlq", "redrive", "RelayFailures"]) == 0
    assert "redrove 1 failure record(s)" in capsys.readouterr().out
