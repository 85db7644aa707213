"""AWS calls per order: one order at a time through the local cloud, on each path, counting
every call every function made (botocore, in the local runtime's workers) by service and
operation, plus what the services do for the flow without a function calling them: the state
machine's transitions and its SQS task, and the SQS requests of Lambda's queue pollers.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localcloud.cloud import LocalCloud
from localcloud.worker import PROVIDER_CALL

TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}
PATHS = {
    "shipped": ("tok_ok", [{"sku": "MS-002", "quantity": 1}]),
    "declined": ("tok_declined", [{"sku": "MS-002", "quantity": 1}]),
    "out of stock": ("tok_ok", [{"sku": "DK-006", "quantity": 99}]),
}


@dataclass(frozen=True)
class OrderCalls:
    path: str
    calls: Counter[str]  # "service.Operation" -> count, made by our functions
    by_function: Counter[tuple[str, str]]  # (function logical id, "service.Operation") -> count
    transitions: int  # state transitions of the saga execution (Standard: the billed unit)
    poller_requests: int  # SQS ReceiveMessage + DeleteMessageBatch made by Lambda's pollers
    invocations: Counter[str]  # function logical id -> invocations (the API's one included)
    capacity: dict[str, float]  # "WRU table" / "RRU table" -> DynamoDB request units
    gb_seconds: float  # Lambda compute: each invocation's run time x its function's memory
    run_seconds: dict[str, float]  # function logical id -> its invocations' run time
    sqs_task_messages: int  # ProcessPayment commands the saga sent (SQS, not a function call)
    log_bytes: int  # what the functions wrote to their logs (CloudWatch Logs ingestion)
    bus_events: int  # the order's domain events, each put on the bus once (billed per event)
    saga_seconds: float  # the saga execution's run time (what an Express workflow bills)

    @property
    def total_calls(self) -> int:
        """AWS calls by our functions (the simulated provider's are not AWS calls)."""
        return sum(n for call, n in self.calls.items() if call != PROVIDER_CALL)

    def function_calls(self, function: str) -> int:
        return sum(
            n for (name, call), n in self.by_function.items() if name.startswith(function) and call != PROVIDER_CALL
        )

    def request_units(self, unit: str) -> float:
        return sum(units for key, units in self.capacity.items() if key.startswith(f"{unit} "))


@dataclass(frozen=True)
class Counted:
    """What the local runtime has counted so far (or, from `since`, between two readings)."""

    calls: Counter[str]
    by_function: Counter[tuple[str, str]]  # (function name, "service.Operation")
    invocations: Counter[str]
    capacity: dict[str, float]
    duration_ms: dict[str, float]
    log_bytes: int
    batches: int  # SQS batches Lambda's pollers delivered

    @classmethod
    def now(cls, cloud: LocalCloud) -> Counted:
        runtime = cloud.runtime
        return cls(
            calls=Counter(runtime.calls),
            by_function=Counter(runtime.calls_by_function),
            invocations=Counter(runtime.invocations),
            capacity=dict(runtime.capacity),
            duration_ms=dict(runtime.duration_ms),
            log_bytes=sum(runtime.log_bytes.values()),
            batches=int(cloud.activity.counters["sqs_batch"]),
        )

    def since(self, before: Counted) -> Counted:
        def grown(now: Mapping[Any, float], then: Mapping[Any, float]) -> dict[Any, float]:
            return {key: value - then.get(key, 0) for key, value in now.items() if value - then.get(key, 0)}

        def counted(now: Counter[Any], then: Counter[Any]) -> Counter[Any]:
            return now - then  # what grew (a Counter keeps positive counts only)

        return Counted(
            calls=counted(self.calls, before.calls),
            by_function=counted(self.by_function, before.by_function),
            invocations=counted(self.invocations, before.invocations),
            capacity=grown(self.capacity, before.capacity),
            duration_ms=grown(self.duration_ms, before.duration_ms),
            log_bytes=self.log_bytes - before.log_bytes,
            batches=self.batches - before.batches,
        )


def order_calls(
    cloud: LocalCloud,
    path: str,
    counted: Counted,
    *,
    transitions: int,
    sqs_task_messages: int,
    bus_events: int,
    saga_seconds: float,
) -> OrderCalls:
    """What was counted, with what the saga and the outbox say of the orders concerned."""
    functions = cloud.runtime.functions.values()
    logical = {spec.name: spec.logical_id for spec in functions}
    memory_gb = {spec.name: spec.memory_mb / 1024 for spec in functions}
    return OrderCalls(
        path=path,
        calls=counted.calls,
        by_function=Counter({(logical[name], call): n for (name, call), n in counted.by_function.items()}),
        transitions=transitions,
        poller_requests=2 * counted.batches,
        invocations=Counter({logical[name]: n for name, n in counted.invocations.items()}),
        capacity=counted.capacity,
        gb_seconds=sum(ms / 1000 * memory_gb[name] for name, ms in counted.duration_ms.items()),
        run_seconds={logical[name]: ms / 1000 for name, ms in counted.duration_ms.items()},
        sqs_task_messages=sqs_task_messages,
        log_bytes=counted.log_bytes,
        bus_events=bus_events,
        saga_seconds=saga_seconds,
    )


def measure(cloud: LocalCloud, path: str) -> OrderCalls:
    token, items = PATHS[path]
    assert cloud.wait_until_idle(timeout=60, settle=1)
    before = Counted.now(cloud)
    body = {"customer_id": "bench", "items": items, "currency": "EUR", "payment_token": token}
    # as a careful client sends it: an Idempotency-Key, so a retried POST cannot order twice
    order_id = cloud.api.request("POST", "/orders", body, {"Idempotency-Key": str(uuid.uuid4())}).body["order_id"]
    deadline = time.monotonic() + 120
    while status(cloud, order_id) not in TERMINAL:  # read directly: no function call counted
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: order {order_id} did not finish")
        time.sleep(0.3)
    cloud.wait_until_idle(timeout=60, settle=2)
    transitions, payment_commands, saga_seconds = _saga(cloud, order_id)
    return order_calls(
        cloud,
        path,
        Counted.now(cloud).since(before),
        transitions=transitions,
        sqs_task_messages=payment_commands,
        bus_events=_outbox_events(cloud, order_id),
        saga_seconds=saga_seconds,
    )


def status(cloud: LocalCloud, order_id: str) -> str:
    summary = cloud.client("dynamodb").get_item(
        TableName=cloud.table_name("OrderViews"), Key={"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}}
    )
    return str(summary.get("Item", {}).get("status", {}).get("S", "PENDING"))


def _outbox_events(cloud: LocalCloud, order_id: str) -> int:
    paginator = cloud.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=cloud.table_name("Outbox"),
        FilterExpression="subject = :order",
        ExpressionAttributeValues={":order": {"S": order_id}},
        Select="COUNT",
    )
    return sum(page["Count"] for page in pages)


def _saga(cloud: LocalCloud, order_id: str) -> tuple[int, int, float]:
    """The saga execution's state transitions (Standard: the billed unit), the payment commands
    it sent (each an SQS SendMessage) and its run time."""
    sfn = cloud.client("stepfunctions")
    arn = str(cloud.deployment.outputs["StateMachine"])
    (execution,) = [e for e in sfn.list_executions(stateMachineArn=arn)["executions"] if e["name"] == order_id]
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    transitions = sum(1 for event in events if event["type"].endswith("StateEntered"))
    commands = sum(
        1
        for event in events
        if event["type"] == "TaskScheduled" and event.get("taskScheduledEventDetails", {}).get("resourceType") == "sqs"
    )
    seconds = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
    return transitions, commands, seconds
