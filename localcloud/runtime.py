"""The in-process Lambda runtime: each function runs in its own worker process (its own
environment, modules and cold start) started from its `Handler` string and code asset."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.provision import FunctionSpec

ROOT = Path(__file__).resolve().parents[1]
LogSink = Callable[[str, str], None]  # (function name, log line)


@dataclass(frozen=True)
class Invocation:
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class Worker:
    """One execution environment. Not thread-safe: the runtime serialises its invocations."""

    def __init__(self, spec: FunctionSpec, base_env: dict[str, str], log_sink: LogSink) -> None:
        self.spec = spec
        request_read, self._request_write = os.pipe()
        self._answer_read, answer_write = os.pipe()
        environment = {
            **base_env,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "LOCALCLOUD_FUNCTION_ARN": spec.arn,
            "PYTHONUNBUFFERED": "1",
            "LOCALCLOUD_FDS": f"{request_read},{answer_write}",
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.worker", str(spec.code_dir), spec.handler, *map(str, spec.layer_dirs)],
            env=environment,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(request_read, answer_write),
            text=True,
        )
        os.close(request_read)
        os.close(answer_write)
        self._answers = os.fdopen(self._answer_read, "r")
        self._requests = os.fdopen(self._request_write, "w")
        threading.Thread(target=self._pump_logs, args=(log_sink,), daemon=True).start()

    def _pump_logs(self, log_sink: LogSink) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            log_sink(self.spec.name, line.rstrip("\n"))

    def invoke(self, event: Any, timeout: float) -> Invocation | None:
        """The answer, or None when the function ran past its timeout (the worker is then dead)."""
        request_id = str(uuid.uuid4())
        deadline = time.time() + timeout
        self._requests.write(json.dumps({"event": event, "request_id": request_id, "deadline": deadline}) + "\n")
        self._requests.flush()
        ready, _, _ = select.select([self._answers], [], [], timeout)
        if not ready:
            self.stop()
            return None
        line = self._answers.readline()
        if not line:
            return Invocation(error={"errorType": "Runtime.ExitError", "errorMessage": "the function process exited"})
        answer = json.loads(line)
        return Invocation(result=answer.get("result"), error=answer.get("error"))

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()


class LambdaRuntime:
    """Runs functions by name; one warm worker per function, restarted after a timeout or crash."""

    def __init__(self, functions: dict[str, FunctionSpec], base_env: dict[str, str], log_sink: LogSink) -> None:
        self._functions = functions
        self._base_env = base_env
        self._log_sink = log_sink
        self._workers: dict[str, Worker] = {}
        self._locks = {name: threading.Lock() for name in functions}
        self._faults: dict[str, dict[str, Any]] = {}

    def inject_fault(self, name: str, error_type: str, message: str) -> None:
        """Make every invocation of `name` fail with this error until `clear_faults` (off by
        default; a local-cloud switch, nothing in the deployed functions)."""
        self._faults[name] = {"errorType": error_type, "errorMessage": message}

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return self._functions

    def invoke(self, name: str, event: Any) -> Invocation:
        if name in self._faults:
            return Invocation(error=dict(self._faults[name]))
        spec = self._functions[name]
        with self._locks[name]:
            worker = self._workers.get(name)
            if worker is None or not worker.alive:
                worker = self._workers[name] = self._start(spec)
            answer = worker.invoke(event, spec.timeout_seconds)
            if answer is None:
                del self._workers[name]
                return Invocation(
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {spec.timeout_seconds:.2f} seconds",
                    }
                )
            return answer

    def _start(self, spec: FunctionSpec) -> Worker:
        return Worker(spec, self._base_env, self._log_sink)

    def warm_up(self) -> None:
        """Start every function's worker now (their cold starts in parallel)."""
        for name, spec in self._functions.items():
            with self._locks[name]:
                if name not in self._workers:
                    self._workers[name] = self._start(spec)

    def stop(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()
