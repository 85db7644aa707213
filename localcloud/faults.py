"""Fault injection for the local cloud: off by default, configured per function or per
dependency, and never part of a deployed function (the hooks live in the local runtime and its
worker processes, not in `functions/` or the layer).

Kinds, and where each one acts:

- `error` on a function: the invocation fails before the handler runs (as when the Lambda
  service fails it);
- `latency` on a function: `seconds` are added before the handler runs;
- `timeout` on a function: the handler runs, then its answer is lost (`Sandbox.Timedout`) and
  the worker restarts cold;
- `duplicate` on a function's event source: a batch that succeeded is delivered again;
- `reorder` on a function's event source: a batch's messages are shuffled, each FIFO group
  keeping its order;
- `error` on an AWS service (`dynamodb`, `sns`, `sqs`, `events`, `stepfunctions`): a call from a
  function fails with the service's throttling error, as once the SDK's retries are spent;
- `conflict` on `dynamodb`: a transaction's first attempt is cancelled with reason
  `TransactionConflict` for its first item, as DynamoDB answers when another request touched
  that item at the same moment (nothing is written); `rate` is the share of transactions that
  meet one, and the same transaction sent again goes through (the other writer is done);
- `outage` on the `gateway`: the payment gateway fails every charge for `seconds`, every
  `every` seconds.

A function is named by the start of its logical id (`FulfilmentPaymentsConsumer`) or `*` for
every function; `rate` is the probability per invocation, delivery or call, and `times` (for a
function fault) the most strikes it makes.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FUNCTION_KINDS = ("error", "latency", "timeout", "duplicate", "reorder")
SERVICES = ("dynamodb", "sns", "sqs", "events", "stepfunctions")
SERVICE_KINDS = {"dynamodb": ("error", "conflict")}
GATEWAY = "gateway"
# The error a throttled call raises after the SDK's retries, per service.
THROTTLING = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "sns": "ThrottledException",
    "sqs": "RequestThrottled",
    "events": "ThrottlingException",
    "stepfunctions": "ThrottlingException",
}
INJECTED_ERROR = "Lambda.ServiceException"


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
            else ("outage",)
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
        if self.kind == "latency" and self.seconds <= 0:
            raise ValueError(f"{self.target} latency: seconds must be positive")
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
        self._random = random.Random(self.seed)  # noqa: S311 - chaos, not cryptography
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
            if seed is not None:
                self._random.seed(seed)

    def clear(self) -> None:
        self.set([])

    def roll(self, kind: str, logical_id: str) -> Fault | None:
        """The fault of this kind that strikes this function now, if any (and count it)."""
        with self._lock:
            for fault in self.faults:
                if fault.kind != kind or not fault.applies_to(logical_id):
                    continue
                if fault.times and self._strikes[fault] >= fault.times:
                    continue
                if self._random.random() < fault.rate:
                    self.injected[kind] += 1
                    self._strikes[fault] += 1
                    return fault
        return None

    def choice(self, options: list[Any]) -> Any:
        """One of `options`, from the plan's seeded generator (a seeded run reorders alike)."""
        with self._lock:
            return self._random.choice(options)

    def dependency_faults(self) -> dict[str, Any]:
        """What a worker applies during one invocation: error rates per service, and whether
        the gateway is down now."""
        with self._lock:
            services = [
                {"service": f.target, "kind": f.kind, "rate": f.rate, "code": f.error_type}
                for f in self.faults
                if f.target in SERVICES
            ]
            elapsed = time.monotonic() - self._started
            down = any(f.kind == "outage" and elapsed % f.every >= f.every - f.seconds for f in self.faults)
        return {"services": services, GATEWAY: down} if services or down else {}

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
        self._random = random.Random()  # noqa: S311 - chaos, not cryptography
        self._installed: set[str] = set()
        self._conflicted: set[str] = set()  # transactions (their items) that met their conflict

    def begin(self, faults: dict[str, Any]) -> None:
        self.current = faults
        self.injected = Counter()
        self._conflicted = set()
        if faults:
            self._install()

    def _install(self) -> None:
        import sys

        if "botocore" not in self._installed:
            from botocore.client import BaseClient

            original = BaseClient._make_api_call
            worker = self

            def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
                worker.strike(client, operation, params)
                return original(client, operation, params)

            BaseClient._make_api_call = make_api_call
            self._installed.add("botocore")
        gateway = sys.modules.get("orderflow.adapters.payment_gateway")
        if gateway is not None and GATEWAY not in self._installed:
            charge = gateway.SimulatedGateway.charge
            worker = self

            def refusing_charge(self: Any, **kwargs: Any) -> Any:
                if worker.current.get(GATEWAY):
                    worker.injected["gateway_outage"] += 1
                    raise gateway.PaymentGatewayError("gateway unavailable (injected outage)")
                return charge(self, **kwargs)

            gateway.SimulatedGateway.charge = refusing_charge
            self._installed.add(GATEWAY)

    def strike(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        service = client.meta.service_model.service_name
        service = "stepfunctions" if service == "sfn" else service
        for fault in self.current.get("services", []):
            if fault["service"] != service or self._random.random() >= fault["rate"]:
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
