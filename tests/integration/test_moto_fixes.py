"""The local cloud's corrections to moto, on moto itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud import moto_fixes
from localcloud.provision import Provisioner

TABLE = "outbox"


@pytest.fixture
def dynamodb() -> Any:
    moto_fixes.isolated_dynamodb_transactions()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield client


def _put(key: str, **condition: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": key}, "sk": {"S": "1"}}, **condition}}


def _stream(client: Any) -> list[tuple[str, str]]:
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="eu-west-1")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["SequenceNumber"]) for r in records]


def test_a_cancelled_transaction_leaves_no_item_and_no_stream_record(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[_put("a")])
    taken = _put("a", ConditionExpression="attribute_not_exists(pk)")

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[_put("b"), taken])
    dynamodb.transact_write_items(TransactItems=[_put("c")])

    keys = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"])
    assert keys == ["a", "c"]
    records = _stream(dynamodb)
    assert [key for key, _ in records] == ["a", "c"]
    assert int(records[1][1]) == int(records[0][1]) + 1  # c took the number b never kept


def test_an_update_in_a_cancelled_transaction_is_undone(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    bump = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[bump, _put("z", ConditionExpression="attribute_exists(pk)")])

    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]
    assert item["n"] == {"N": "1"}


def test_readers_never_see_half_a_transaction(dynamodb: Any) -> None:
    pairs = [[_put(f"{n}-x"), _put(f"{n}-y")] for n in range(150)]
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            keys = [item["pk"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"]]
            seen.append(len(keys) % 2)
            time.sleep(0.002)  # a reader among writers, not one holding the tables every instant

    reader = threading.Thread(target=read)
    reader.start()
    for pair in pairs:
        dynamodb.transact_write_items(TransactItems=pair)
    done.set()
    reader.join()

    assert seen
    assert set(seen) == {0}


def test_overlapping_transactions_conflict_and_a_write_to_a_held_item_is_refused(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one transaction holds its items (its first phase, widened here to half a second),
    another touching one of them is cancelled with `TransactionConflict` for that item, a plain
    write to one is refused with `TransactionConflictException`, and a reader sees the items as
    they were; then the first transaction applies whole."""
    monkeypatch.setattr(moto_fixes, "TRANSACTION_PREPARE_SECONDS", 0.5)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "stock"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    decrement = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "stock"}, "sk": {"S": "1"}},
            "UpdateExpression": "SET n = n - :one",
            "ConditionExpression": "n >= :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    first = threading.Thread(target=dynamodb.transact_write_items, kwargs={"TransactItems": [_put("a"), decrement]})
    first.start()
    time.sleep(0.1)

    with pytest.raises(ClientError) as conflict:
        dynamodb.transact_write_items(TransactItems=[_put("b"), decrement])
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "stock"}, "sk": {"S": "1"}, "n": {"N": "9"}})
    during = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "stock"}, "sk": {"S": "1"}})["Item"]
    first.join()

    assert [r["Code"] for r in conflict.value.response["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert refused.value.response["Error"]["Code"] == "TransactionConflictException"
    assert during["n"] == {"N": "1"}
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "stock"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "0"}
    keys = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"])
    assert keys == ["a", "stock"]  # the cancelled one wrote nothing


def test_a_query_reads_its_partition_in_order(dynamodb: Any) -> None:
    moto_fixes.partition_queries()
    for pk in ("a", "b", "c"):
        for sk in ("3", "1", "2"):
            dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": pk + sk}})

    def query(pk: str, **extra: Any) -> list[str]:
        answer = dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            **extra,
        )
        return [item["v"]["S"] for item in answer["Items"]]

    assert query("b") == ["b1", "b2", "b3"]
    assert query("c", ScanIndexForward=False, Limit=2) == ["c3", "c2"]
    assert query("missing") == []
    assert len(dynamodb.scan(TableName=TABLE)["Items"]) == 9  # a scan still sees every item


def test_choice_rules_compare_rfc3339_timestamps_as_step_functions_does() -> None:
    moto_fixes.rfc3339_timestamps_in_choices()
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
        timestamp_operators as operators,
    )

    later, earlier = "2026-12-02T16:22:48.269152+00:00", "2026-12-02T16:22:33.452Z"  # moto's and ours

    assert operators.TimestampGreaterThanEquals._compare(later, earlier)
    assert not operators.TimestampGreaterThanEquals._compare(earlier, later)
    assert operators.TimestampEquals._compare("2026-12-02T17:22:33.452+01:00", earlier)
    for not_a_time in ("2026-12-02 16:22:48Z", "2026-02-30T10:00:00Z", "2026-12-02T24:00:00Z", f"{later}\n"):
        assert not operators.TimestampGreaterThanEquals._compare(not_a_time, earlier), not_a_time


@pytest.fixture
def step_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    moto_fixes.new_task_token_per_attempt()
    moto_fixes.task_answers_skip_unstarted_executions()
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("MOTO_PORT", str(port))  # where the state machine's SQS integration calls
    endpoint = {"endpoint_url": f"http://{host}:{port}", "region_name": "eu-west-1"}
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    try:
        yield boto3.client("stepfunctions", **endpoint, **credentials), boto3.client("sqs", **endpoint, **credentials)
    finally:
        server.stop()
        default_user_config.pop("stepfunctions", None)


def _waiting_task(sfn: Any, sqs: Any) -> tuple[str, Callable[[str], str]]:
    """A state machine whose task waits for a token (2 s heartbeat), then compensates for 4 s."""
    queue = sqs.create_queue(QueueName="commands")["QueueUrl"]
    definition = {
        "StartAt": "Pay",
        "States": {
            "Pay": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 2,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Compensate"}],
                "Next": "Compensate",
            },
            "Compensate": {"Type": "Wait", "Seconds": 4, "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name="pay", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/saga"
    )["stateMachineArn"]

    def start(name: str) -> str:
        sfn.start_execution(stateMachineArn=machine, name=name)
        for _ in range(20):
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return str(json.loads(message["Body"])["token"])
        raise AssertionError("no task token sent")

    return machine, start


def test_a_task_token_is_refused_once_its_task_has_ended(step_functions: tuple[Any, Any]) -> None:
    """As on AWS: an answered or timed-out task's token gets `TaskTimedOut`, though the execution
    runs on (here: compensating), so a late command is not taken for one still awaited."""
    sfn, sqs = step_functions
    _, start = _waiting_task(sfn, sqs)

    answered = start("answered")
    sfn.send_task_heartbeat(taskToken=answered)  # still awaited
    sfn.send_task_failure(taskToken=answered, error="PaymentUnavailable", cause="circuit open")
    timed_out = start("timed-out")
    time.sleep(3)  # past its heartbeat

    for token in (answered, timed_out):
        with pytest.raises(sfn.exceptions.TaskTimedOut):
            sfn.send_task_heartbeat(taskToken=token)
        with pytest.raises(sfn.exceptions.TaskTimedOut):
            sfn.send_task_success(taskToken=token, output="{}")


def test_only_the_latest_receipt_handle_deletes_or_releases_a_message() -> None:
    """A message delivered again after its visibility timeout ran out: the first delivery's
    delete succeeds and leaves it (a standard queue), and its release is refused as expired;
    the second delivery's handle still works."""
    moto_fixes.stale_receipt_handles_change_nothing()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue = sqs.create_queue(QueueName="work")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="order-1")
        first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"][0]
        time.sleep(1.1)  # the visibility timeout runs out while the first delivery still works
        second = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30)["Messages"][0]

        deleted = sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": "0", "ReceiptHandle": first["ReceiptHandle"]}]
        )
        released = sqs.change_message_visibility_batch(
            QueueUrl=queue, Entries=[{"Id": "0", "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 0}]
        )
        still_held = sqs.receive_message(QueueUrl=queue).get("Messages", [])
        with pytest.raises(ClientError) as refused:
            sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=second["ReceiptHandle"])
        left = sqs.receive_message(QueueUrl=queue).get("Messages", [])

    assert second["MessageId"] == first["MessageId"]
    assert [entry["Id"] for entry in deleted["Successful"]] == ["0"]  # succeeds ...
    assert still_held == []  # ... and the message stays with the second delivery
    assert "receipt handle has expired" in released["Failed"][0]["Message"]
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "receipt handle has expired" in refused.value.response["Error"]["Message"]
    assert left == []  # the latest handle deleted it


def test_the_local_cloud_refuses_a_moto_it_was_not_tested_with() -> None:
    import moto

    tested = moto_fixes.tested_moto_version()
    moto_fixes.refuse_untested_moto()  # the installed one is the pinned one

    with pytest.raises(moto_fixes.UntestedMoto) as refused:
        moto_fixes.refuse_untested_moto("5.99.0")

    assert tested == moto.__version__
    assert f"tested with moto {tested}" in str(refused.value)
    assert "this is moto 5.99.0" in str(refused.value)


def test_receives_at_the_same_time_never_share_a_fifo_group_or_a_message() -> None:
    """Pollers receive side by side: as on SQS, a group in flight to one receive is held back
    from the others, and no message is handed out twice."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    moto_fixes.atomic_queue_actions()
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads switch often, as under load
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            queue = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            for n in range(300):
                sqs.send_message(
                    QueueUrl=queue, MessageBody=str(n), MessageGroupId=f"g-{n % 60}", MessageDeduplicationId=str(n)
                )

            def receive(_: int) -> list[list[dict[str, Any]]]:
                batches = []
                while batch := sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
                ).get("Messages", []):
                    batches.append(batch)
                return batches

            with ThreadPoolExecutor(3) as pool:
                batches = [batch for found in pool.map(receive, range(3)) for batch in found]
    finally:
        sys.setswitchinterval(switching)

    bodies = [message["Body"] for batch in batches for message in batch]
    owners: dict[str, int] = {}
    for index, batch in enumerate(batches):
        for message in batch:
            group = message["Attributes"]["MessageGroupId"]
            assert owners.setdefault(group, index) == index, f"{group} went to two receives"
    assert len(bodies) == len(set(bodies))  # no message twice
    assert len(owners) == 60  # every group handed out (its first messages; the rest wait)


def test_a_fifo_queue_refuses_a_delete_with_an_expired_receipt_handle() -> None:
    moto_fixes.stale_receipt_handles_change_nothing()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="order-1", MessageGroupId="g", MessageDeduplicationId="1")
        first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"][0]
        time.sleep(1.1)
        second = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30)["Messages"][0]

        deleted = sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": "0", "ReceiptHandle": first["ReceiptHandle"]}]
        )
        with pytest.raises(ClientError) as refused:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"])
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=second["ReceiptHandle"])

    assert [entry["Id"] for entry in deleted["Failed"]] == ["0"]  # not deleted, and said so
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "receipt handle has expired" in refused.value.response["Error"]["Message"]


def test_a_functions_concurrency_and_async_settings_come_from_the_template_and_stay_live(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    function = {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": "code"},
        "Properties": {
            "FunctionName": "payments",
            "Handler": "app.handler",
            "Role": "arn:aws:iam::123456789012:role/payments",
            "ReservedConcurrentExecutions": 4,
        },
    }
    destination = "arn:aws:sqs:eu-west-1:123456789012:failed"
    settings = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "Payments"},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": destination}},
        },
    }
    template = tmp_path / "stack.template.json"
    template.write_text(json.dumps({"Resources": {"Payments": function, "PaymentsAsync": settings}}))
    with mock_aws():
        Provisioner(template, lambda service: boto3.client(service, region_name="eu-west-1")).provision()
        reserved = moto_fixes.reserved_concurrency("123456789012", "eu-west-1")
        configured = moto_fixes.event_invoke_config("123456789012", "eu-west-1", "payments")
        boto3.client("lambda", region_name="eu-west-1").delete_function_concurrency(FunctionName="payments")
        released = moto_fixes.reserved_concurrency("123456789012", "eu-west-1")

    assert reserved == {"payments": 4}
    assert configured == {"MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": destination}}}
    assert released == {}  # what an operator changes, the runtime reads next


def test_a_released_fifo_group_comes_back_whole_and_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs import models

    moto_fixes.released_messages_visible_at_once()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="group.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for body in ("first", "second"):
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
        now = models.unix_time_millis()
        monkeypatch.setattr(models, "unix_time_millis", lambda: now)  # the release and the receive in one millisecond
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(received)
            ],
        )
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]

    assert [message["Body"] for message in again] == ["first", "second"]
