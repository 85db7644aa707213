"""One Lambda execution environment: a process that imports a function's handler once (its
cold start) and then serves invocations, like the Lambda runtime does.

The parent starts it with the function's own environment; requests arrive as JSON lines on one
inherited pipe and answers leave on another (`LOCALCLOUD_FDS`), so the handler's stdout/stderr
(its logs) stay free.
Run as `python -m localcloud.worker CODE_DIR HANDLER LAYER_DIR...`.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from localcloud import capacity
from localcloud.faults import WorkerFaults


class LambdaContext:
    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = os.environ["LOCALCLOUD_FUNCTION_ARN"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "localcloud"
        self._deadline = request["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error_shape(error: BaseException) -> dict[str, Any]:
    """Lambda's error payload; `errorType` is the exception class name, which Step Functions
    `ErrorEquals` and Lambda destinations match on."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error)[-6:],
    }


# The simulated payment provider's calls (its ledger is a DynamoDB table here, an HTTPS call to
# the provider on AWS): counted under this name, with no request units.
PROVIDER_CALL = "payment-provider (simulated)"


class CallLog:
    """Counts the AWS calls the function makes (service and operation) and the DynamoDB request
    units they consume, per invocation: what the benchmarks' per-order figures are made of.
    Local only, like the worker."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.capacity: dict[str, float] = {}
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        log = self
        ledger = os.environ.get("LEDGER_TABLE")

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if ledger and params.get("TableName") == ledger:
                log.calls[PROVIDER_CALL] = log.calls.get(PROVIDER_CALL, 0) + 1
                return original(client, operation, params)
            key = f"{service}.{operation}"
            log.calls[key] = log.calls.get(key, 0) + 1
            answer: dict[str, Any] = {}
            try:
                answer = original(client, operation, params)
                return answer
            finally:
                if service == "dynamodb":  # a cancelled or failed write is billed too
                    for table, (write, read) in capacity.units(operation, params, answer).items():
                        for unit, consumed in (("WRU", write), ("RRU", read)):
                            if consumed:
                                key = f"{unit} {table}"
                                log.capacity[key] = log.capacity.get(key, 0.0) + consumed

        BaseClient._make_api_call = make_api_call

    def take(self) -> tuple[dict[str, int], dict[str, float]]:
        taken = self.calls, self.capacity
        self.calls, self.capacity = {}, {}
        return taken


def main() -> None:
    # Ctrl-C in `make local` reaches the whole process group: the parent stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_dir, handler_path, *layer_dirs = sys.argv[1:]
    request_fd, answer_fd = (int(fd) for fd in os.environ.pop("LOCALCLOUD_FDS").split(","))
    # Lambda's order: the function's code first, then each layer's python/ folder; the project
    # checkout itself is not importable, so a function sees only what is deployed with it.
    checkout = os.getcwd()
    sys.path[:] = [path for path in sys.path if path not in ("", checkout)]
    sys.path[:0] = [code_dir, *(os.path.join(layer, "python") for layer in layer_dirs)]
    calls = CallLog()
    module_name, _, function_name = handler_path.rpartition(".")
    handler = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # an init failure answers every invocation, as in Lambda
        init_error = {**error_shape(error), "errorType": "Runtime.ImportModuleError"}
        traceback.print_exc()
    faults = WorkerFaults()  # local fault injection: nothing of it is deployed
    with os.fdopen(request_fd, "r") as requests, os.fdopen(answer_fd, "w") as answers:
        for line in requests:
            request = json.loads(line)
            faults.begin(request.get("faults") or {})
            started = time.perf_counter()
            if handler is None:
                answer: dict[str, Any] = {"error": init_error}
            else:
                try:
                    answer = {"result": handler(request["event"], LambdaContext(request))}
                except Exception as error:
                    traceback.print_exc()
                    answer = {"error": error_shape(error)}
            answer["ms"] = (time.perf_counter() - started) * 1000
            if faults.injected:
                answer["injected"] = dict(faults.injected)
            answer["calls"], answer["capacity"] = calls.take()
            sys.stdout.flush()
            sys.stderr.flush()
            answers.write(json.dumps(answer, default=str) + "\n")
            answers.flush()


if __name__ == "__main__":
    main()
