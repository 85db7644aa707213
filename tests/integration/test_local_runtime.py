"""The local Lambda runtime: a function runs from its Handler string in its own process, with
its own environment, Lambda's context and Lambda's error shape, and a timeout that kills it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from localcloud.provision import FunctionSpec
from localcloud.runtime import LambdaRuntime

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
