"""The local Lambda runtime: each execution environment is a worker process (its own
environment, modules and cold start) started from the function's `Handler` string and code
asset. A function runs in several environments at once, as Lambda scales it: an invocation
takes a warm environment that is free, or starts one (a cold start) while the function has
fewer than `environments` (the cap a 2-core laptop fits; AWS would start more, so beyond it an
invocation waits for one to free up).

Concurrency is limited as Lambda limits it: a function with reserved concurrency runs at most
that many invocations at once, the others share what the account's concurrency leaves
unreserved, and an invocation beyond its limit is refused (`TooManyRequests`, Lambda's 429)
before it runs; each caller then does what its AWS counterpart does with a throttle."""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from localcloud.access import Caller
from localcloud.faults import LATENCY, Fault, FaultPlan
from localcloud.lambda_python import VIRTUALENV, Interpreter
from localcloud.provision import FunctionSpec

ROOT = Path(__file__).resolve().parents[1]
LogSink = Callable[[str, str], None]  # (function name, log line)


ACCOUNT_CONCURRENCY = 1000  # Lambda's default concurrent executions per account and region


class TooManyRequests(Exception):
    """Lambda refused the invocation (429 `TooManyRequestsException`): the function's reserved
    concurrency, or the account's unreserved concurrency, is all in use. Nothing ran."""

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.function_name = function_name
        self.reason = reason  # as Lambda's answer names it


Reservations = Callable[[], dict[str, int]]  # function name -> reserved concurrency (those with one)


@dataclass(frozen=True)
class Invocation:
    result: Any = None
    error: dict[str, Any] | None = None
    injected: dict[str, int] | None = None  # dependency faults the worker injected
    calls: dict[str, int] | None = None  # AWS calls the function made ("service.Operation")
    capacity: dict[str, float] | None = None  # DynamoDB request units consumed ("WRU table")
    duration_ms: float = 0.0  # the handler's run time
    environment: int = 0  # the execution environment that ran it (its worker's process id)

    @property
    def failed(self) -> bool:
        return self.error is not None


class Worker:
    """One execution environment: one invocation at a time (the runtime hands it out)."""

    def __init__(
        self, spec: FunctionSpec, base_env: dict[str, str], log_sink: LogSink, interpreter: Interpreter = VIRTUALENV
    ) -> None:
        self.spec = spec
        request_read, self._request_write = os.pipe()
        self._answer_read, answer_write = os.pipe()
        environment = {
            **base_env,
            **Caller.of_function(spec).credentials(),  # its role's session, as Lambda gives it
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "LOCALCLOUD_FUNCTION_ARN": spec.arn,
            "PYTHONUNBUFFERED": "1",
            "LOCALCLOUD_FDS": f"{request_read},{answer_write}",
            **interpreter.environment,
        }
        self._process = subprocess.Popen(
            [
                interpreter.executable,
                "-m",
                "localcloud.worker",
                str(spec.code_dir),
                spec.handler,
                *map(str, spec.layer_dirs),
            ],
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

    def invoke(self, event: Any, timeout: float, faults: dict[str, Any] | None = None) -> Invocation | None:
        """The answer, or None when the function ran past its timeout (the worker is then dead)."""
        request_id = str(uuid.uuid4())
        deadline = time.time() + timeout
        request = {"event": event, "request_id": request_id, "deadline": deadline, "faults": faults or {}}
        self._requests.write(json.dumps(request) + "\n")
        self._requests.flush()
        ready, _, _ = select.select([self._answers], [], [], timeout)
        if not ready:
            self.stop()
            return None
        line = self._answers.readline()
        if not line:
            return Invocation(error={"errorType": "Runtime.ExitError", "errorMessage": "the function process exited"})
        answer = json.loads(line)
        return Invocation(
            result=answer.get("result"),
            error=answer.get("error"),
            injected=answer.get("injected"),
            calls=answer.get("calls"),
            capacity=answer.get("capacity"),
            duration_ms=answer.get("ms", 0.0),
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()


DEFAULT_ENVIRONMENTS = 3  # per function


class InvocationObserver(Protocol):
    def invoked(self, function: str, *, failed: bool, duration_ms: float) -> None: ...

    def throttled(self, function: str) -> None: ...


class LambdaRuntime:
    """Runs functions by name, each in up to `environments` execution environments at once;
    an environment is kept warm between invocations and replaced after a timeout or crash.
    `reservations` says which functions have reserved concurrency now (read on every
    invocation: an operator may change it while the cloud runs), `account_concurrency` is the
    account's limit."""

    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        base_env: dict[str, str],
        log_sink: LogSink,
        *,
        environments: int = DEFAULT_ENVIRONMENTS,
        reservations: Reservations = dict,
        account_concurrency: int = ACCOUNT_CONCURRENCY,
        interpreter: Callable[[FunctionSpec], Interpreter] = lambda _: VIRTUALENV,
        observer: InvocationObserver | None = None,
    ) -> None:
        self._functions = functions
        self._observer = observer  # told of every invocation and throttle (CloudWatch's metrics)
        self._interpreter = interpreter
        self._base_env = base_env
        self._log_sink = log_sink
        self.environments = environments
        self._reservations = reservations
        self.account_concurrency = account_concurrency
        self._admitted: Counter[str] = Counter()  # invocations running or waiting for an environment
        self.throttles: Counter[str] = Counter()  # invocations refused, per function
        self.log_bytes: Counter[str] = Counter()  # what each function wrote to its log
        self._free: dict[str, list[Worker]] = {name: [] for name in functions}  # warm and waiting
        self._busy: Counter[str] = Counter()  # environments running an invocation, per function
        self._everyone: set[Worker] = set()
        self._environments = threading.Condition()
        self._stopped = False
        self.peak_concurrency: Counter[str] = Counter()  # most environments busy at once, per function
        self.cold_starts: Counter[str] = Counter()
        self.faults = FaultPlan()
        self.calls: Counter[str] = Counter()  # every AWS call every function made
        self.calls_by_function: Counter[tuple[str, str]] = Counter()  # (function, "service.Operation")
        self.invocations: Counter[str] = Counter()  # invocations per function
        self.duration_ms: defaultdict[str, float] = defaultdict(float)  # handler run time per function
        self.capacity: defaultdict[str, float] = defaultdict(float)  # DynamoDB request units ("RRU table")
        self._calls_lock = threading.Lock()

    def inject_fault(self, name: str, error_type: str, message: str) -> None:
        """Make every invocation of function `name` fail with this error until `clear_faults`."""
        fault = Fault(kind="error", target=self._functions[name].logical_id, error_type=error_type, message=message)
        self.faults.set([*self.faults.faults, fault])

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return self._functions

    def invoke(self, name: str, event: Any, *, delay: float = 0.0) -> Invocation:
        """Run the function on `event` in one of its environments; with `delay`, the
        environment is held that long first (a slow invocation)."""
        spec = self._functions[name]
        self._admit(spec)
        try:
            worker = self._acquire(spec)
            try:
                if delay:
                    time.sleep(delay)
                started = time.monotonic()
                answer = self._invoke_in(worker, spec, event)
                if self._observer is not None:
                    took = answer.duration_ms or (time.monotonic() - started) * 1000
                    self._observer.invoked(spec.name, failed=answer.failed, duration_ms=took)
                return answer
            finally:
                self._release(spec, worker)
        finally:
            with self._environments:
                self._admitted[spec.name] -= 1

    def _admit(self, spec: FunctionSpec) -> None:
        """Count the invocation against its function's concurrency, or refuse it as Lambda does
        when that is all in use: a function with reserved concurrency has exactly that much; the
        others share the account's concurrency less every reservation. An invocation waiting
        for a local environment counts (on AWS it would be running)."""
        reserved = self._reservations()
        with self._environments:
            if spec.name in reserved:
                if self._admitted[spec.name] >= reserved[spec.name]:
                    self._throttled(spec)
                    raise TooManyRequests(spec.name, "ReservedFunctionConcurrentInvocationLimitExceeded")
            else:
                unreserved = self.account_concurrency - sum(reserved.values())
                in_use = sum(count for name, count in self._admitted.items() if name not in reserved)
                if in_use >= unreserved:
                    self._throttled(spec)
                    raise TooManyRequests(spec.name, "ConcurrentInvocationLimitExceeded")
            self._admitted[spec.name] += 1

    def _throttled(self, spec: FunctionSpec) -> None:
        self.throttles[spec.name] += 1
        if self._observer is not None:
            self._observer.throttled(spec.name)

    def _acquire(self, spec: FunctionSpec) -> Worker:
        """A free warm environment of the function, or a new one (a cold start) while it has
        fewer than `environments`; otherwise wait for one to be released."""
        with self._environments:
            self._environments.wait_for(
                lambda: self._stopped or self._free[spec.name] or self._busy[spec.name] < self.environments
            )
            if self._stopped:
                raise RuntimeError("the Lambda runtime has stopped")
            self._busy[spec.name] += 1
            self.peak_concurrency[spec.name] = max(self.peak_concurrency[spec.name], self._busy[spec.name])
            while self._free[spec.name]:
                worker = self._free[spec.name].pop()
                if worker.alive:
                    return worker
                self._everyone.discard(worker)
        try:
            return self._start(spec)
        except BaseException:
            with self._environments:  # the environment never started: its place is free again
                self._busy[spec.name] -= 1
                self._environments.notify_all()
            raise

    def _release(self, spec: FunctionSpec, worker: Worker) -> None:
        with self._environments:
            self._busy[spec.name] -= 1
            if worker.alive and not self._stopped:
                self._free[spec.name].append(worker)
            else:
                self._everyone.discard(worker)
            self._environments.notify_all()
        if self._stopped:
            worker.stop()

    def _invoke_in(self, worker: Worker, spec: FunctionSpec, event: Any) -> Invocation:
        if not self.faults.active:
            return self._invoke(worker, spec, event, {})
        latency = self.faults.roll("latency", spec.logical_id)
        if latency:
            time.sleep(latency.seconds)
        error = self.faults.roll("error", spec.logical_id)
        if error:
            self.faults.record_invocation(faulted=True)
            return Invocation(error={"errorType": error.error_type, "errorMessage": error.message})
        timeout = self.faults.roll("timeout", spec.logical_id)
        faults = self.faults.dependency_faults(spec.logical_id)
        kill = self.faults.roll("kill_after_write", spec.logical_id, count=False)
        if kill:
            faults = {**faults, "kill_after_write": True}
        answer = self._invoke(worker, spec, event, faults)
        if kill and answer.error and answer.error.get("errorType") == "Runtime.ExitError":
            answer = replace(answer, injected={**(answer.injected or {}), "kill_after_write": 1})  # wrote, died
        if answer.injected:
            self.faults.count(answer.injected, spec.logical_id)
        if timeout and worker.alive:
            worker.stop()  # the answer is lost; the next invocation starts cold
            answer = _timed_out(spec)
        # Latency alone (added before the handler, or a slow provider) is not a fault that hurts.
        hurt = {kind for kind in answer.injected or {} if kind not in LATENCY}
        self.faults.record_invocation(faulted=bool(timeout or hurt))
        return answer

    def _invoke(self, worker: Worker, spec: FunctionSpec, event: Any, faults: dict[str, Any]) -> Invocation:
        answer = worker.invoke(event, spec.timeout_seconds, faults)
        if answer is not None:
            answer = replace(answer, environment=worker.pid)
        if answer is None:
            return _timed_out(spec)  # the worker was stopped: the next invocation starts cold
        if answer.error and answer.error.get("errorType") == "Runtime.ExitError":
            worker.stop()  # the environment died: the next one starts cold
        with self._calls_lock:
            self.invocations[spec.name] += 1
            self.calls.update(answer.calls or {})
            for call, made in (answer.calls or {}).items():
                self.calls_by_function[spec.name, call] += made
            self.duration_ms[spec.name] += answer.duration_ms
            for unit, consumed in (answer.capacity or {}).items():
                self.capacity[unit] += consumed
        return answer

    def _start(self, spec: FunctionSpec) -> Worker:
        worker = Worker(spec, self._base_env, self._counted_log_sink, self._interpreter(spec))
        with self._environments:
            self._everyone.add(worker)
            self.cold_starts[spec.name] += 1
            stopped = self._stopped
        if stopped:  # stopped while it started: nothing will stop it later
            worker.stop()
            raise RuntimeError("the Lambda runtime has stopped")
        return worker

    def _counted_log_sink(self, name: str, line: str) -> None:
        with self._calls_lock:  # several environments' log pumps at once
            self.log_bytes[name] += len(line.encode()) + 1
        self._log_sink(name, line)

    def warm_up(self) -> None:
        """Start one environment of every function now (their cold starts in parallel)."""
        for name, spec in self._functions.items():
            if not self._free[name] and not self._busy[name]:
                worker = self._start(spec)
                with self._environments:
                    self._free[name].append(worker)

    def stop(self) -> None:
        """Stop every environment; an invocation still running gets `Runtime.ExitError`, and
        none starts after this."""
        with self._environments:
            self._stopped = True
            self._environments.notify_all()
            workers = list(self._everyone)
            self._everyone.clear()
            for free in self._free.values():
                free.clear()
        for worker in workers:
            worker.stop()


def _timed_out(spec: FunctionSpec) -> Invocation:
    message = f"Task timed out after {spec.timeout_seconds:.2f} seconds"
    return Invocation(error={"errorType": "Sandbox.Timedout", "errorMessage": message})
