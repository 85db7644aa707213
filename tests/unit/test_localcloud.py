"""Local cloud pieces that need no endpoint: provisioning refusals, event filtering,
intrinsics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from localcloud.intrinsics import UnsupportedIntrinsic, resolve
from localcloud.pollers import matches
from localcloud.provision import Provisioner, ProvisioningError


def _template(tmp_path: Path, resources: dict[str, Any]) -> Path:
    path = tmp_path / "stack.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    return path


def test_the_provisioner_refuses_an_unknown_resource_type(tmp_path: Path) -> None:
    template = _template(tmp_path, {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}}})
    calls: list[str] = []

    with pytest.raises(ProvisioningError, match=r"does not know resource type\(s\) AWS::S3::Bucket"):
        Provisioner(template, lambda service: calls.append(service)).provision()
    assert calls == []  # refused before creating anything


def test_types_without_local_meaning_are_listed_as_skipped(tmp_path: Path) -> None:
    template = _template(tmp_path, {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}}})

    deployment = Provisioner(template, lambda service: None).provision()

    assert deployment.skipped == {"AWS::Logs::LogGroup": ["Logs"]}


def test_roles_and_their_policies_are_kept_for_the_permission_checks(tmp_path: Path) -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    template = _template(
        tmp_path,
        {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "api"}},
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": document},
            },
        },
    )

    deployment = Provisioner(template, lambda service: None).provision()

    assert deployment.permissions.roles == {"arn:aws:iam::123456789012:role/api": [document]}


def test_intrinsics_resolve_against_provisioned_values() -> None:
    values = {("Queue", "Arn"): "arn:aws:sqs:eu-west-1:123456789012:q", ("Table", None): "orders"}

    resolved = resolve(
        {
            "a": {"Fn::Join": ["/", [{"Ref": "AWS::Region"}, {"Ref": "Table"}]]},
            "b": {"Fn::Select": [5, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]},
            "c": {"Fn::Sub": "${Table}-${AWS::AccountId}"},
        },
        lambda logical_id, attribute: values[(logical_id, attribute)],
        {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"},
    )

    assert resolved == {"a": "eu-west-1/orders", "b": "q", "c": "orders-123456789012"}


def test_an_unsupported_intrinsic_is_an_error() -> None:
    with pytest.raises(UnsupportedIntrinsic, match="Fn::ImportValue"):
        resolve({"Fn::ImportValue": "x"}, lambda *_: None, {})


def test_event_filter_patterns_match_like_lambda() -> None:
    assert matches({"eventName": ["INSERT"]}, {"eventName": "INSERT"})
    assert not matches({"eventName": ["INSERT"]}, {"eventName": "REMOVE"})
    assert matches({"dynamodb": {"Keys": {"id": {"S": ["a"]}}}}, {"dynamodb": {"Keys": {"id": {"S": "a"}}}})


def test_an_undelivered_rule_event_left_in_its_dlq_says_where_it_was_going_and_why() -> None:
    """Not "no failure recorded": the failure record itself carries the target and the error."""
    from types import SimpleNamespace
    from typing import cast

    from localcloud.cloud import LocalCloud
    from localcloud.state import reason

    cloud = cast(LocalCloud, SimpleNamespace(activity=SimpleNamespace(failure_reasons={}, reports=[])))
    record = {
        "MessageId": "m-1",
        "Body": '{"detail-type": "OrderCreated"}',
        "MessageAttributes": {
            "RULE_ARN": {"DataType": "String", "StringValue": "StartSaga"},
            "TARGET_ARN": {"DataType": "String", "StringValue": "arn:aws:sqs:eu-west-1:123456789012:saga-starts"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "RequestThrottled: slow down"},
        },
    }

    assert (
        reason(cloud, record)
        == "not delivered to arn:aws:sqs:eu-west-1:123456789012:saga-starts: RequestThrottled: slow down"
    )
    assert reason(cloud, {"MessageId": "m-2", "Body": "{}"}) == "no failure recorded"


def test_a_message_whose_whole_batch_failed_names_the_invocations_error() -> None:
    """An invocation that failed before the function reported anything: its error is the reason."""
    from types import SimpleNamespace
    from typing import cast

    from localcloud.cloud import LocalCloud
    from localcloud.state import reason

    error = {"errorType": "ServiceUnavailable", "errorMessage": "the read model is unreachable"}
    reports = [
        ("sqs_batch", {"message_ids": ["m-1", "m-2"], "error": error}),
        ("sqs_batch", {"message_ids": ["m-3"], "error": None}),
    ]
    cloud = cast(LocalCloud, SimpleNamespace(activity=SimpleNamespace(failure_reasons={}, reports=reports)))

    assert reason(cloud, {"MessageId": "m-2", "Body": "{}"}) == (
        "ServiceUnavailable: the read model is unreachable (the function failed the whole batch)"
    )
    assert reason(cloud, {"MessageId": "m-3", "Body": "{}"}) == "no failure recorded"


def _sqs_poller(queue: Any, invoke: Any = None, *, batch_size: int = 10, concurrency: int = 1) -> Any:
    """An SQS poller on a fake queue, handing its batches to `invoke` (no runtime, no endpoint)."""
    from types import SimpleNamespace
    from typing import cast

    from localcloud.faults import FaultPlan
    from localcloud.pollers import SqsPoller
    from localcloud.provision import EventSourceSpec
    from localcloud.runtime import LambdaRuntime

    runtime = cast(LambdaRuntime, SimpleNamespace(invoke=invoke, faults=FaultPlan(), functions={}))
    spec = EventSourceSpec("Source", "consumer", "arn:aws:sqs:eu-west-1:123456789012:q", batch_size, True)
    return SqsPoller(
        spec,
        queue_url="q",
        retry_delay_seconds=1,
        runtime=runtime,
        client=lambda *_, **__: queue,
        report=lambda *_: None,
        concurrency=concurrency,
    )


def test_a_poller_is_busy_from_the_moment_it_receives_work() -> None:
    """Not idle while a delivery of its work is still going on, however long it takes: a wait
    for the whole cloud to be idle must not end in the middle of one."""
    import threading

    from localcloud.runtime import Invocation

    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "{}", "MD5OfBody": "-", "Attributes": {}}
    handed_out = threading.Event()
    working, release = threading.Event(), threading.Event()

    class Queue:
        def receive_message(self, **_: Any) -> dict[str, Any]:
            if handed_out.is_set():
                return {}
            handed_out.set()
            return {"Messages": [message]}

        def delete_message_batch(self, **_: Any) -> None:
            return None

    def invoke(name: str, event: Any, **_: Any) -> Invocation:
        working.set()
        release.wait(5)
        return Invocation(result={"batchItemFailures": []})

    poller = _sqs_poller(Queue(), invoke)
    poller.idle.set()  # as after an earlier empty poll
    poller.start()
    try:
        assert working.wait(5)
        assert not poller.idle.is_set()
        release.set()
        for _ in range(100):
            if poller.idle.is_set():
                break
            threading.Event().wait(0.05)
        assert poller.idle.is_set()  # idle again once nothing is left
    finally:
        release.set()
        poller.stop()


def test_a_poller_takes_more_batches_at_once_while_its_backlog_lasts() -> None:
    """Up to its concurrency, one more batch at a time while every batch before it is busy,
    and idle only once every one of them is done."""
    import threading

    from localcloud.runtime import Invocation

    backlog = [
        {"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": "{}", "MD5OfBody": "-", "Attributes": {}}
        for n in range(6)
    ]
    lock = threading.Lock()
    running, peak, delivered, idle_while_running = [0], [0], [], []

    class Queue:
        def receive_message(self, **_: Any) -> dict[str, Any]:
            with lock:
                return {"Messages": [backlog.pop(0)]} if backlog else {}

        def delete_message_batch(self, **_: Any) -> None:
            return None

    def invoke(name: str, event: Any, **_: Any) -> Invocation:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.3)
        idle_while_running.append(poller.idle.is_set())
        with lock:
            running[0] -= 1
            delivered.extend(record["messageId"] for record in event["Records"])
        return Invocation(result={"batchItemFailures": []})

    poller = _sqs_poller(Queue(), invoke, batch_size=1, concurrency=3)
    poller.start()
    try:
        for _ in range(100):
            if len(delivered) == 6 and poller.idle.is_set():
                break
            threading.Event().wait(0.05)
    finally:
        poller.stop()

    assert sorted(delivered) == [f"m-{n}" for n in range(6)]
    assert peak[0] == 3
    assert idle_while_running == [False] * 6  # never idle while a batch runs
    assert poller.idle.is_set()


def test_a_quiet_source_costs_one_poll_at_a_time() -> None:
    import threading

    lock = threading.Lock()
    receiving, most = [0], [0]

    class EmptyQueue:
        def receive_message(self, **_: Any) -> dict[str, Any]:
            with lock:
                receiving[0] += 1
                most[0] = max(most[0], receiving[0])
            threading.Event().wait(0.01)
            with lock:
                receiving[0] -= 1
            return {}

    poller = _sqs_poller(EmptyQueue(), concurrency=3)
    poller.start()
    threading.Event().wait(0.5)
    poller.stop()

    assert most[0] == 1
    assert poller.idle.is_set()


def test_stream_records_older_than_the_maximum_record_age_go_to_the_on_failure_destination() -> None:
    """As Lambda does for a stream mapping's `MaximumRecordAgeInSeconds`: the old records are
    not delivered; their description goes to the on-failure destination (`RecordAgeExceeded`)."""
    import json
    import time
    from types import SimpleNamespace
    from typing import cast

    from localcloud.faults import FaultPlan
    from localcloud.pollers import StreamPoller
    from localcloud.provision import Deployment, EventSourceSpec
    from localcloud.runtime import Invocation, LambdaRuntime

    sent: list[dict[str, Any]] = []
    delivered: list[list[str]] = []

    class Queue:
        def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803 - boto3's names
            sent.append({"queue": QueueUrl, **json.loads(MessageBody)})

    def invoke(name: str, event: Any, **_: Any) -> Invocation:
        delivered.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return Invocation(result=None)

    def record(sequence: str, age: float) -> dict[str, Any]:
        return {"dynamodb": {"SequenceNumber": sequence, "ApproximateCreationDateTime": int(time.time() - age)}}

    runtime = cast(
        LambdaRuntime,
        SimpleNamespace(invoke=invoke, faults=FaultPlan(), functions={"relay": SimpleNamespace(arn="arn:relay")}),
    )
    failures = "arn:aws:sqs:eu-west-1:123456789012:relay-failures"
    spec = EventSourceSpec(
        "Relay",
        "relay",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/outbox/stream/1",
        25,
        True,
        max_record_age_seconds=60,
        on_failure_arn=failures,
    )
    deployment = cast(Deployment, SimpleNamespace(queue_urls={failures: "relay-failures-url"}))
    poller = StreamPoller(
        spec,
        deployment=deployment,
        retry_delay_seconds=0,
        runtime=runtime,
        client=lambda *_, **__: Queue(),
        report=lambda *_: None,
    )

    poller._deliver("shard-1", [record("1", 120), record("2", 90), record("3", 5)], attempt=0)

    assert delivered == [["3"]]
    (failure,) = sent
    assert failure["queue"] == "relay-failures-url"
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "1"
    assert failure["DDBStreamBatchInfo"]["endSequenceNumber"] == "2"


def test_the_region_is_the_one_the_users_aws_configuration_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from localcloud.provision import DEFAULT_REGION, configured_region

    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-southeast-2\n")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert configured_region() == DEFAULT_REGION == "eu-west-1"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert configured_region() == "ap-southeast-2"  # the profile's
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    assert configured_region() == "us-east-2"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert configured_region() == "eu-central-1"


def test_a_runtime_python_that_does_not_run_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pyenv shim can exist and refuse: functions then run on the virtualenv's Python."""
    from localcloud import lambda_python

    shim = tmp_path / "python3.99"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    lambda_python.installed.cache_clear()

    assert lambda_python.installed("python3.99") is None
    assert lambda_python.for_runtime("python3.99", tmp_path / "packages") == lambda_python.VIRTUALENV
    assert not (tmp_path / "packages").exists()  # nothing installed for it
