"""Past a function's concurrency Lambda throttles, and each caller does what it does on AWS: API
Gateway answers 500, an SQS mapping retries the batch while it is still invisible and polls
less, Step Functions fails the task with `Lambda.TooManyRequestsException` (which the saga
retries), and an asynchronous invocation stays queued and is tried again. The limit is the
function's reserved concurrency, set as an operator sets it (`PutFunctionConcurrency`)."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.faults import Fault
from localcloud.state import dead_letters
from tests.e2e.saga_support import executions, no_saga_running, place, wait_terminal
from tests.e2e.test_concurrency import QUEUE, _batches, _processed
from tests.e2e.test_fidelity import _send
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_created

Reserve = Callable[[str, int], str]


@pytest.fixture
def reserve(cloud: LocalCloud) -> Iterator[Reserve]:
    """Reserve concurrency for the function whose logical id starts with a prefix (its name
    back); every reservation is taken away after the test."""
    lambda_ = cloud.client("lambda")
    reserved: list[str] = []

    def put(logical_prefix: str, concurrency: int) -> str:
        name = cloud.function_name(logical_prefix)
        lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=concurrency)
        reserved.append(name)
        return name

    yield put
    for name in reserved:
        lambda_.delete_function_concurrency(FunctionName=name)
    cloud.runtime.faults.clear()


def _throttles(cloud: LocalCloud, function: str) -> int:
    return cloud.runtime.throttles[function]


def test_api_gateway_answers_500_when_the_function_is_throttled(cloud: LocalCloud, api: Any, reserve: Reserve) -> None:
    function = reserve("OrdersApi", 0)  # an operator's brake: the function runs nowhere

    refused = api("GET", "/products")
    assert refused.status == 500
    # API Gateway's message, in the template's 5XX gateway response
    assert refused.body["message"] == "Internal server error"
    assert refused.body["errors"] == [{"field": "request", "problem": "the request could not be served"}]
    assert _throttles(cloud, function) >= 1

    cloud.client("lambda").delete_function_concurrency(FunctionName=function)
    assert api("GET", "/products").status == 200


def test_an_sqs_mapping_retries_a_throttled_batch_within_its_visibility_timeout(
    cloud: LocalCloud, reserve: Reserve
) -> None:
    function = reserve("OrderHistoryConsumer", 1)  # the mapping still polls with 3 pollers
    logical_id = cloud.runtime.functions[function].logical_id
    cloud.runtime.faults.set([Fault(kind="latency", target=logical_id, seconds=0.3)])
    before = _throttles(cloud, function)
    sent: set[str] = set()
    orders = [f"order-{uuid.uuid4()}" for _ in range(24)]
    with cloud.paused():  # a backlog of 24 groups, more than one batch: several are received at once
        for order in orders:
            sent.add(_send(cloud, QUEUE, order, order_created(order).model_copy(update={"subject": order}).to_json()))

    wait_for(lambda: _processed(cloud, sent), timeout=60)
    batches = _batches(cloud, sent)

    assert _throttles(cloud, function) > before  # some batches met the limit ...
    # ... and were tried again while they stayed invisible: each message was received once
    # and processed once, none dead-lettered.
    assert all(count == 1 for batch in batches for count in batch["receive_counts"].values())
    assert sorted(m for batch in batches for m in batch["message_ids"]) == sorted(sent)
    assert not [letter for letter in dead_letters(cloud) if any(order in letter.body for order in orders)]
    # One invocation at a time, as the reservation allows: the handlers' runs never overlap.
    runs = [(batch["ended"] - batch["duration_ms"] / 1000, batch["ended"]) for batch in batches]
    overlapping = [(a, b) for a, b in itertools.combinations(runs, 2) if a[0] < b[1] - 0.01 and b[0] < a[1] - 0.01]
    assert overlapping == []


def test_a_throttled_saga_step_fails_with_lambdas_error_and_is_retried(cloud: LocalCloud, reserve: Reserve) -> None:
    no_saga_running(cloud)
    function = reserve("FulfilmentReserveInventory", 0)
    order_id = place(cloud, "tok_ok")
    wait_for(lambda: _throttles(cloud, function) >= 2, timeout=30)  # the first attempt and a retry

    cloud.client("lambda").delete_function_concurrency(FunctionName=function)
    assert wait_terminal(cloud, order_id)[order_id]["status"] == "SHIPPED"

    (execution,) = executions(cloud, order_id)
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    failures = [
        event["lambdaFunctionFailedEventDetails"] for event in history if event["type"] == "LambdaFunctionFailed"
    ]
    assert failures, "no failed task attempt in the history"
    assert {failure["error"] for failure in failures} == {"Lambda.TooManyRequestsException"}
    assert "Status Code: 429; Error Code: TooManyRequestsException" in failures[0]["cause"]


def test_an_asynchronous_invocation_waits_out_a_throttle_then_retries_and_records_its_failure(
    cloud: LocalCloud, reserve: Reserve
) -> None:
    function = reserve("FulfilmentReserveInventory", 0)
    spec = cloud.runtime.functions[function]
    sqs, lambda_ = cloud.client("sqs"), cloud.client("lambda")
    destination = sqs.create_queue(QueueName=f"failed-invocations-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=destination, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Lambda sends the record with the function's role: the queue's policy lets it.
    statement = {"Effect": "Allow", "Principal": {"AWS": spec.role_arn}, "Action": "sqs:SendMessage", "Resource": arn}
    sqs.set_queue_attributes(
        QueueUrl=destination, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    )
    lambda_.put_function_event_invoke_config(
        FunctionName=function, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    try:
        payload = {"not": "an order"}  # the step refuses it: a function error, every attempt
        answer = lambda_.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload))
        assert answer["StatusCode"] == 202  # accepted while throttled: it waits in Lambda's queue
        wait_for(lambda: _throttles(cloud, function) >= 2, timeout=10)
        ran_before = cloud.runtime.invocations[function]

        lambda_.delete_function_concurrency(FunctionName=function)
        message = wait_for(lambda: _one_message(sqs, destination), timeout=30)
    finally:
        lambda_.delete_function_event_invoke_config(FunctionName=function)

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the first attempt and 2 retries
    assert record["requestPayload"] == payload
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert cloud.runtime.invocations[function] - ran_before == 3


def _one_message(sqs: Any, url: str) -> dict[str, Any] | None:
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    return messages[0] if messages else None


def test_an_operator_cannot_reserve_what_the_account_must_keep_unreserved(cloud: LocalCloud) -> None:
    function = cloud.function_name("OrdersApi")
    with pytest.raises(cloud.client("lambda").exceptions.InvalidParameterValueException) as refused:
        cloud.client("lambda").put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=950)
    assert "below its minimum value of [100]" in str(refused.value)
    assert "ReservedConcurrentExecutions" not in cloud.client("lambda").get_function_concurrency(FunctionName=function)
