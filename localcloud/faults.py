"""Fault injection for the local cloud: off by default, configured per function or per
dependency, and never part of a deployed function (the hooks live in the local runtime and its
worker processes, not in `functions/` or the layer).

Kinds, and where each one acts:

- `error` on a function: the invocation fails before the handler runs (as when the Lambda
  service fails it);
- `latency` on a function: `seconds` are added before the handler runs;
- `timeout` on a function: the handler runs, then its answer is lost (`Sandbox.Timedout`) and
  the worker restarts cold;
- `kill_after_write` on a function: the handler runs until its first write to an AWS service
  (a DynamoDB write, a message sent, an event published, a task answered) goes through, then
  its process dies (`Runtime.ExitError`) before it answers, and the next invocation starts cold;
- `duplicate` on a function's event source: a batch that succeeded is delivered again;
- `late_duplicate` on a function's event source: a copy of a batch that succeeded arrives
  `seconds` later (default 5), after messages that came behind it;
- `reorder` on a function's event source: a batch's messages are shuffled, each FIFO group
  keeping its order;
- `visibility_timeout` on a function's SQS event source: a batch outlasts its visibility
  timeout (it takes `seconds` longer, default 2, and its messages become visible as it starts,
  standing for a timeout that ran out): another environment receives the messages and runs
  them meanwhile, a FIFO group included, and the slow batch's delete, with receipt handles
  that are no longer the latest, leaves them, as SQS does;
- `error` on an AWS service (`dynamodb`, `sns`, `sqs`, `events`, `stepfunctions`): a call from a
  function fails with the service's throttling error, as once the SDK's retries are spent;
- `lost_answer` on `dynamodb`: a write is applied, then the call fails with
  `InternalServerError` (DynamoDB's "the request may or may not have succeeded"), as when the
  answer is lost on the way back;
- `conflict` on `dynamodb`: a transaction's first attempt is cancelled with reason
  `TransactionConflict` for its first item, as DynamoDB answers when another request touched
  that item at the same moment (nothing is written); `rate` is the share of transactions that
  meet one, and the same transaction sent again goes through (the other writer is done);
- `delivery` on `sns`: a delivery from the topic to a queue fails for good (SNS's retries
  spent), and the message lands in the subscription's dead-letter queue instead, with the
  error in its `ERROR_MESSAGE` attribute; `rate` is the share of deliveries that fail;
- `outage` on the `gateway`: the simulated payment provider refuses every request for
  `seconds`, every `every` seconds (nothing reaches it);
- `slow` on the `gateway`: a share `rate` of its answers take `seconds` longer;
- `lost_answer` on the `gateway`: a share `rate` of the charges it applies answer with a
  timeout (the money moved, the caller does not know).

A function is named by the start of its logical id (`FulfilmentPaymentsConsumer`) or `*` for
every function; `rate` is the probability per invocation, delivery or call, and `times` (for a
function fault) the most strikes it makes.

A plan with a seed repeats itself: each fault draws from its own generator per function (seeded
from the plan's seed, the fault and the function), and each invocation hands its worker a seed
drawn the same way, so the nth invocation of a function meets the same faults in every run,
however the functions interleave.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FUNCTION_KINDS = (
    "error",
    "latency",
    "timeout",
    "kill_after_write",
    "duplicate",
    "late_duplicate",
    "reorder",
    "visibility_timeout",
)
SERVICES = ("dynamodb", "sns", "sqs", "events", "stepfunctions")
SERVICE_KINDS = {"dynamodb": ("error", "conflict", "lost_answer"), "sns": ("error", "delivery")}
# Calls that change something: where a kill after a write, or a lost answer, strikes.
WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
        "SendMessage",
        "SendMessageBatch",
        "Publish",
        "PublishBatch",
        "PutEvents",
        "StartExecution",
        "SendTaskSuccess",
        "SendTaskFailure",
    }
)
LATE_DUPLICATE_SECONDS = 5.0
SLOW_BATCH_SECONDS = 2.0  # how much longer a batch whose visibility timeout runs out takes
KILLED = 137  # the exit status of a process killed mid-work
GATEWAY = "gateway"
GATEWAY_KINDS = ("outage", "slow", "lost_answer")
# The error a throttled call raises after the SDK's retries, per service.
THROTTLING = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "sns": "ThrottledException",
    "sqs": "RequestThrottled",
    "events": "ThrottlingException",
    "stepfunctions": "ThrottlingException",
}
INJECTED_ERROR = "Lambda.ServiceException"
LATENCY = frozenset({"latency", "gateway_slow"})  # kinds that only delay: not counted as faulted
INJECTED = "injected"  # every injected failure says so in its message


def is_injected(reason: str) -> bool:
    """Whether a failure's reason (an error message, a saga's cause) names an injected fault."""
    return INJECTED in reason


@dataclass(frozen=True)
class Fault:
    kind: str
    target: str  # function logical-id prefix, `*`, a service name or `gateway`
    rate: float = 1.0
    seconds: float = 0.0  # latency added, or an outage's length
    every: float = 0.0  # an outage's period
    error_type: str = INJECTED_ERROR
    message: str = "injected fault"
    times: int = 0  # a function fault strikes at most this many times (0: no limit)

    def __post_init__(self) -> None:
        dependency = self.target in SERVICES or self.target == GATEWAY
        allowed = (
            SERVICE_KINDS.get(self.target, ("error",))
            if self.target in SERVICES
            else GATEWAY_KINDS
            if self.target == GATEWAY
            else FUNCTION_KINDS
        )
        if self.kind not in allowed:
            raise ValueError(f"{self.target}: no {self.kind!r} fault (one of {', '.join(allowed)})")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"{self.target} {self.kind}: rate must be between 0 and 1, not {self.rate}")
        if self.kind == "outage" and not 0 < self.seconds < self.every:
            raise ValueError("gateway outage: needs 0 < seconds < every")
        if self.times < 0 or (self.times and dependency):
            raise ValueError(f"{self.target} {self.kind}: times is a count of function faults (0: no limit)")
        if self.kind == "late_duplicate" and not self.seconds:
            object.__setattr__(self, "seconds", LATE_DUPLICATE_SECONDS)
        if self.kind == "visibility_timeout" and not self.seconds:
            object.__setattr__(self, "seconds", SLOW_BATCH_SECONDS)
        if self.kind in ("latency", "slow", "late_duplicate", "visibility_timeout") and self.seconds <= 0:
            raise ValueError(f"{self.target} {self.kind}: seconds must be positive")
        if dependency and self.kind == "error" and self.error_type == INJECTED_ERROR:
            object.__setattr__(self, "error_type", THROTTLING[self.target])

    def applies_to(self, logical_id: str) -> bool:
        return self.target == "*" or logical_id.startswith(self.target)


@dataclass
class FaultPlan:
    """The faults in force and what they did. Thread-safe; empty (no faults) by default."""

    faults: list[Fault] = field(default_factory=list)
    seed: int | None = None
    injected: Counter[str] = field(default_factory=Counter)  # kind (and service) -> count
    injected_by_function: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    faulted_invocations: int = 0
    invocations: int = 0

    def __post_init__(self) -> None:
        self._streams: dict[str, random.Random] = {}
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._strikes: Counter[Fault] = Counter()

    @classmethod
    def load(cls, path: Path, seed: int | None = None) -> FaultPlan:
        """A JSON list of faults, e.g. `[{"kind": "error", "target": "*", "rate": 0.1}]`."""
        entries = json.loads(path.read_text())
        return cls([Fault(**entry) for entry in entries], seed=seed)

    @property
    def active(self) -> bool:
        return bool(self.faults)

    def set(self, faults: list[Fault], seed: int | None = None) -> None:
        with self._lock:
            self.faults = list(faults)
            self._started = time.monotonic()
            self._strikes.clear()
            self._streams.clear()
            if seed is not None:
                self.seed = seed

    def clear(self) -> None:
        self.set([])

    def roll(self, kind: str, logical_id: str, *, count: bool = True) -> Fault | None:
        """The fault of this kind that strikes this function now, if any (and count it, unless
        the caller counts it once it has struck)."""
        with self._lock:
            for fault in self.faults:
                if fault.kind != kind or not fault.applies_to(logical_id):
                    continue
                if fault.times and self._strikes[fault] >= fault.times:
                    continue
                if self._stream(f"{fault}/{logical_id}").random() < fault.rate:
                    self.injected[kind] += count
                    self._strikes[fault] += 1
                    return fault
        return None

    def choice(self, options: list[Any], stream: str = "") -> Any:
        """One of `options`, from the plan's seeded generator for `stream` (a function: a
        seeded run reorders its batches alike)."""
        with self._lock:
            return self._stream(f"choice/{stream}").choice(options)

    def _stream(self, name: str) -> random.Random:
        """The generator of one fault for one function (the lock is held)."""
        if name not in self._streams:
            seed = None if self.seed is None else f"{self.seed}/{name}"
            self._streams[name] = random.Random(seed)  # noqa: S311 - chaos, not cryptography
        return self._streams[name]

    def delivery_fails(self, queue_name: str) -> bool:
        """Whether this delivery from the topic to `queue_name` fails (and count it)."""
        with self._lock:
            for fault in self.faults:
                if fault.kind == "delivery" and self._stream(f"{fault}/{queue_name}").random() < fault.rate:
                    self.injected["sns_delivery"] += 1
                    return True
        return False

    def dependency_faults(self, logical_id: str = "") -> dict[str, Any]:
        """What a worker applies during one invocation of `logical_id`: error rates per
        service, how the payment provider behaves (down now, slow, losing answers), and the
        seed of the worker's draws."""
        with self._lock:
            seed = self._stream(f"worker/{logical_id}").getrandbits(32)
            services = [
                {"service": f.target, "kind": f.kind, "rate": f.rate, "code": f.error_type}
                for f in self.faults
                if f.target in SERVICES and f.kind != "delivery"  # made by SNS, not by a function
            ]
            elapsed = time.monotonic() - self._started
            provider: dict[str, Any] = {}
            for f in self.faults:
                if f.kind == "outage" and elapsed % f.every >= f.every - f.seconds:
                    provider["down"] = True
                elif f.kind == "slow":
                    provider["slow"] = {"rate": f.rate, "seconds": f.seconds}
                elif f.kind == "lost_answer":
                    provider["lost_answer"] = f.rate
        faults: dict[str, Any] = {"services": services} if services else {}
        faults = {**faults, GATEWAY: provider} if provider else faults
        return {**faults, "seed": seed} if faults else {}

    def count(self, kinds: dict[str, int], function: str) -> None:
        """Faults a worker injected (dependency errors, gateway refusals) in one invocation of
        `function` (a logical id)."""
        with self._lock:
            self.injected.update(kinds)
            for kind, times in kinds.items():
                self.injected_by_function[kind][function] += times

    def record_invocation(self, faulted: bool) -> None:
        with self._lock:
            self.invocations += 1
            self.faulted_invocations += int(faulted)


# --- in the worker process ---------------------------------------------------------------


class WorkerFaults:
    """Applies one invocation's dependency faults inside a worker process: AWS calls through
    botocore, and the simulated payment gateway's charges."""

    def __init__(self) -> None:
        self.current: dict[str, Any] = {}
        self.injected: Counter[str] = Counter()
        self.random = random.Random()  # noqa: S311 - chaos, not cryptography
        self._installed: set[str] = set()
        self._conflicted: set[str] = set()  # transactions (their items) that met their conflict
        self._provider_table = os.environ.get("LEDGER_TABLE")

    def begin(self, faults: dict[str, Any]) -> None:
        self.current = faults
        self.injected = Counter()
        self._conflicted = set()
        if faults:
            self.random.seed(faults.get("seed"))
            self._install()

    def _install(self) -> None:

        if "botocore" not in self._installed:
            from botocore.client import BaseClient

            original = BaseClient._make_api_call
            worker = self

            def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
                worker.strike(client, operation, params)
                answer = original(client, operation, params)
                worker.applied(client, operation, params)
                return answer

            BaseClient._make_api_call = make_api_call
            self._installed.add("botocore")
        gateway = sys.modules.get("orderflow.adapters.payment_gateway")
        if gateway is not None and GATEWAY not in self._installed:
            gateway.SimulatedGateway.behaviour = ProviderFaults(self, gateway.PaymentGatewayError)
            self._installed.add(GATEWAY)

    def applied(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        """After a call went through: a kill after a write, or its answer lost."""
        if operation not in WRITES or _provider_store(params, self._provider_table):
            return
        if self.current.get("kill_after_write"):
            sys.stdout.flush()
            os._exit(KILLED)  # the answer never leaves: the runtime sees the process gone
        service = client.meta.service_model.service_name
        for fault in self.current.get("services", []):
            if fault["service"] == service and fault["kind"] == "lost_answer" and self.random.random() < fault["rate"]:
                self.injected[f"{service}_lost_answer"] += 1
                error = client.exceptions.from_code("InternalServerError")
                message = "injected fault: the request was applied, its answer lost"
                raise error({"Error": {"Code": "InternalServerError", "Message": message}}, operation)

    def strike(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        if _provider_store(params, self._provider_table):
            return  # the simulated provider's own store: its faults are the provider's (below)
        service = client.meta.service_model.service_name
        service = "stepfunctions" if service == "sfn" else service
        for fault in self.current.get("services", []):
            if fault["kind"] == "lost_answer":
                continue  # strikes after the call (`applied`)
            if fault["service"] != service or self.random.random() >= fault["rate"]:
                continue
            if fault["kind"] == "conflict":
                transaction = json.dumps(params.get("TransactItems"), sort_keys=True, default=str)
                if operation != "TransactWriteItems" or transaction in self._conflicted:
                    continue
                self._conflicted.add(transaction)
                self.injected[f"{service}_conflict"] += 1
                error = client.exceptions.TransactionCanceledException
                raise error(transaction_conflict(len(params["TransactItems"])), operation)
            self.injected[f"{service}_error"] += 1
            error = client.exceptions.from_code(fault["code"])
            raise error({"Error": {"Code": fault["code"], "Message": "injected fault"}}, "injected")


def transaction_conflict(items: int) -> dict[str, Any]:
    """DynamoDB's answer to a transaction of `items` items cancelled because another request
    touched its first item (the reasons are per item, in order)."""
    reasons = ["TransactionConflict", *["None"] * (items - 1)]
    return {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join(reasons)}]",
        },
        "CancellationReasons": [
            {"Code": reason, **({"Message": "Transaction is ongoing for the item"} if reason != "None" else {})}
            for reason in reasons
        ],
    }


def _provider_store(params: dict[str, Any], table: str | None) -> bool:
    """Whether a DynamoDB call goes to the simulated payment provider's table."""
    if table is None:
        return False
    requests = [request for item in params.get("TransactItems") or [] for request in item.values()]
    return params.get("TableName") == table or any(request.get("TableName") == table for request in requests)


class ProviderFaults:
    """The simulated payment provider's `Behaviour` inside a worker: the invocation's gateway
    faults, counted as they strike."""

    def __init__(self, worker: WorkerFaults, error: type[Exception]) -> None:
        self._worker = worker
        self._error = error

    def before(self, operation: str) -> None:
        provider = self._worker.current.get(GATEWAY) or {}
        if provider.get("down"):
            self._worker.injected["gateway_outage"] += 1
            raise self._error("payment provider unavailable (injected outage)")
        slow = provider.get("slow")
        if slow and self._worker.random.random() < slow["rate"]:
            self._worker.injected["gateway_slow"] += 1
            time.sleep(slow["seconds"])

    def after_applied(self, operation: str) -> None:
        rate = (self._worker.current.get(GATEWAY) or {}).get("lost_answer", 0.0)
        if operation == "charge" and rate and self._worker.random.random() < rate:
            self._worker.injected["gateway_lost_answer"] += 1
            raise self._error("payment provider timed out (injected: the charge was applied)")
