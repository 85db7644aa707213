"""The local Lambda runtime: a function runs from its Handler string in its own process, with
its own environment, Lambda's context and Lambda's error shape, and a timeout that kills it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localcloud.provision import FunctionSpec
from localcloud.runtime import LambdaRuntime, TooManyRequests

HANDLER = """
import os, time


def handler(event, context):
    if event.get("fail"):
        raise KeyError("no such thing")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("log line from", context.function_name)
    return {
        "greeting": os.environ.get("GREETING"),
        "other": os.environ.get("OTHER_ONLY"),
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "process": os.getpid(),
    }
"""


def _function(tmp_path: Path, name: str, environment: dict[str, str], timeout: int = 3) -> FunctionSpec:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return FunctionSpec(
        logical_id=name,
        name=name,
        handler="app.handler",
        code_dir=code,
        layer_dirs=(),
        environment=environment,
        timeout_seconds=timeout,
        memory_mb=256,
    )


@pytest.fixture
def runtime(tmp_path: Path):  # type: ignore[no-untyped-def]
    logs: list[tuple[str, str]] = []
    functions = {
        "greeter": _function(tmp_path, "greeter", {"GREETING": "hello"}, timeout=1),
        "other": _function(tmp_path, "other", {"OTHER_ONLY": "mine"}),
    }
    lambda_runtime = LambdaRuntime(functions, {"PATH": "/usr/bin:/bin"}, lambda name, line: logs.append((name, line)))
    lambda_runtime.logs = logs  # type: ignore[attr-defined]
    yield lambda_runtime
    lambda_runtime.stop()


def test_a_function_gets_its_own_environment_and_a_lambda_context(runtime: LambdaRuntime) -> None:
    greeter = runtime.invoke("greeter", {})
    other = runtime.invoke("other", {})

    assert greeter.result["greeting"] == "hello"
    assert greeter.result["other"] is None  # one function never sees another's variables
    assert other.result["other"] == "mine"
    assert greeter.result["function"] == "greeter"
    assert 0 < greeter.result["remaining_ms"] <= 1000
    assert greeter.result["request_id"] != runtime.invoke("greeter", {}).result["request_id"]


def test_the_worker_stays_warm_between_invocations(runtime: LambdaRuntime) -> None:
    first = runtime.invoke("greeter", {}).result["process"]

    assert runtime.invoke("greeter", {}).result["process"] == first


def test_errors_come_back_in_lambdas_shape(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke("greeter", {"fail": True})

    assert answer.failed
    assert answer.error is not None
    assert (answer.error["errorType"], answer.error["errorMessage"]) == ("KeyError", "'no such thing'")
    assert runtime.invoke("greeter", {}).result["greeting"] == "hello"  # still serving


def test_a_function_past_its_timeout_is_stopped_and_starts_cold_again(runtime: LambdaRuntime) -> None:
    before = runtime.invoke("greeter", {}).result["process"]

    answer = runtime.invoke("greeter", {"sleep": 3})

    assert answer.error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert runtime.invoke("greeter", {}).result["process"] != before  # a new execution environment


def test_function_output_is_collected_as_its_logs(runtime: LambdaRuntime) -> None:
    runtime.invoke("other", {})

    time.sleep(0.2)  # the log pump is a separate thread
    assert ("other", "log line from other") in runtime.logs  # type: ignore[attr-defined]


WRITER = """
import os

import boto3


def handler(event, context):
    sqs = boto3.client("sqs")
    for n in range(2):
        sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=f"{event['order']}-{n}")
    return "sent"
"""


def test_a_function_killed_after_its_first_write_leaves_that_write_and_no_answer(tmp_path: Path) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from localcloud.faults import Fault

    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        sqs = boto3.client(
            "sqs", endpoint_url=endpoint, region_name="eu-west-1", **{k.lower(): v for k, v in credentials.items()}
        )
        queue = sqs.create_queue(QueueName="out")["QueueUrl"]
        spec = _function(tmp_path, "writer", {"QUEUE_URL": queue}, timeout=10)
        (spec.code_dir / "app.py").write_text(WRITER)
        base = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "eu-west-1", **credentials}
        runtime = LambdaRuntime({"writer": spec}, base, lambda name, line: None)
        try:
            runtime.faults.set([Fault(kind="kill_after_write", target="writer", times=1)], seed=1)
            killed = runtime.invoke("writer", {"order": "o-1"})
            again = runtime.invoke("writer", {"order": "o-2"})
        finally:
            runtime.stop()
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    finally:
        server.stop()

    assert killed.error is not None
    assert killed.error["errorType"] == "Runtime.ExitError"
    assert again.result == "sent"
    assert sorted(bodies) == ["o-1-0", "o-2-0", "o-2-1"]
    assert runtime.faults.injected["kill_after_write"] == 1


def _at_once(runtime: LambdaRuntime, name: str, events: list[dict[str, Any]]) -> list[Any]:
    with ThreadPoolExecutor(len(events)) as pool:
        return [answer.result for answer in pool.map(lambda event: runtime.invoke(name, event), events)]


def test_invocations_at_the_same_time_run_in_environments_of_their_own(tmp_path: Path) -> None:
    spec = _function(tmp_path, "busy", {}, timeout=5)
    runtime = LambdaRuntime({"busy": spec}, {"PATH": "/usr/bin:/bin"}, lambda name, line: None, environments=3)
    try:
        runtime.warm_up()
        processes = {result["process"] for result in _at_once(runtime, "busy", [{"sleep": 1}] * 3)}
        warm = {result["process"] for result in _at_once(runtime, "busy", [{"sleep": 1}] * 3)}
    finally:
        runtime.stop()

    assert len(processes) == 3  # two more started cold beside the warm one
    assert warm == processes  # and kept warm for the next ones
    assert runtime.peak_concurrency["busy"] == 3
    assert runtime.cold_starts["busy"] == 3


def test_beyond_the_cap_an_invocation_waits_for_an_environment(tmp_path: Path) -> None:
    spec = _function(tmp_path, "busy", {}, timeout=5)
    runtime = LambdaRuntime({"busy": spec}, {"PATH": "/usr/bin:/bin"}, lambda name, line: None, environments=2)
    try:
        results = _at_once(runtime, "busy", [{"sleep": 0.5}] * 5)
    finally:
        runtime.stop()

    assert all(result["function"] == "busy" for result in results)  # every one ran ...
    assert len({result["process"] for result in results}) == 2  # ... in the two environments
    assert runtime.peak_concurrency["busy"] == 2


def _outcomes(runtime: LambdaRuntime, name: str, count: int, sleep: float = 1.0) -> list[str]:
    """Each of `count` invocations at once: "ran", or the reason Lambda refused it."""

    def one(_: int) -> str:
        try:
            runtime.invoke(name, {"sleep": sleep})
        except TooManyRequests as throttle:
            return throttle.reason
        return "ran"

    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(one, range(count)))


def test_past_its_reserved_concurrency_an_invocation_is_throttled_before_it_runs(tmp_path: Path) -> None:
    reserved = {"busy": 2}
    spec = _function(tmp_path, "busy", {}, timeout=5)
    runtime = LambdaRuntime(
        {"busy": spec},
        {"PATH": "/usr/bin:/bin"},
        lambda name, line: None,
        environments=3,
        reservations=lambda: reserved,
    )
    try:
        outcomes = _outcomes(runtime, "busy", 4)
        reserved["busy"] = 0  # an operator's brake: nothing runs
        stopped = _outcomes(runtime, "busy", 1)
        del reserved["busy"]  # the reservation taken away: the account's concurrency again
        freed = _outcomes(runtime, "busy", 3)
    finally:
        runtime.stop()

    throttled = "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert outcomes == ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 2 + ["ran"] * 2
    assert stopped == [throttled]
    assert freed == ["ran"] * 3
    assert runtime.throttles["busy"] == 3
    assert runtime.invocations["busy"] == 5  # a throttled invocation never reached the function


def test_invocations_waiting_for_a_local_environment_count_against_the_limit(tmp_path: Path) -> None:
    spec = _function(tmp_path, "busy", {}, timeout=5)
    runtime = LambdaRuntime(
        {"busy": spec},
        {"PATH": "/usr/bin:/bin"},
        lambda name, line: None,
        environments=1,
        reservations=lambda: {"busy": 2},
    )
    try:
        outcomes = _outcomes(runtime, "busy", 3, sleep=0.5)
    finally:
        runtime.stop()

    # Two admitted (one runs, one waits for the only local environment), the third throttled,
    # as AWS would throttle the third of three at once with 2 reserved.
    assert outcomes == ["ReservedFunctionConcurrentInvocationLimitExceeded", "ran", "ran"]


def test_functions_without_a_reservation_share_what_the_account_leaves_unreserved(tmp_path: Path) -> None:
    functions = {name: _function(tmp_path, name, {}, timeout=5) for name in ("busy", "reserved")}
    runtime = LambdaRuntime(
        functions,
        {"PATH": "/usr/bin:/bin"},
        lambda name, line: None,
        environments=3,
        reservations=lambda: {"reserved": 8},
        account_concurrency=10,  # a new account's quota: 2 left for every unreserved function
    )
    try:
        outcomes = _outcomes(runtime, "busy", 3)
    finally:
        runtime.stop()

    assert outcomes == ["ConcurrentInvocationLimitExceeded", "ran", "ran"]
