"""AWS calls per order: one order at a time through the local cloud, on each path, counting
every call every function made (botocore, in the local runtime's workers) by service and
operation, plus what the services do for the flow without a function calling them: the state
machine's transitions and its SQS task, and the SQS requests of Lambda's queue pollers.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from localcloud.api_client import call
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
    invocations: Counter[str]  # function -> invocations (the API's one included)
    capacity: dict[str, float]  # "WRU table" / "RRU table" -> DynamoDB request units
    gb_seconds: float  # Lambda compute: each invocation's run time x its function's memory
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


def measure(cloud: LocalCloud, path: str) -> OrderCalls:
    token, items = PATHS[path]
    assert cloud.wait_until_idle(timeout=60, settle=1)
    calls_before = Counter(cloud.runtime.calls)
    by_function_before = Counter(cloud.runtime.calls_by_function)
    batches_before = _batches(cloud)
    invocations_before = Counter(cloud.runtime.invocations)
    capacity_before = dict(cloud.runtime.capacity)
    duration_before = dict(cloud.runtime.duration_ms)
    logged_before = sum(cloud.runtime.log_bytes.values())
    body = {"customer_id": "bench", "items": items, "currency": "EUR", "payment_token": token}
    # as a careful client sends it: an Idempotency-Key, so a retried POST cannot order twice
    order_id = call(cloud.api.url, "POST", "/orders", body, {"Idempotency-Key": str(uuid.uuid4())}).body["order_id"]
    deadline = time.monotonic() + 120
    while status(cloud, order_id) not in TERMINAL:  # read directly: no function call counted
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: order {order_id} did not finish")
        time.sleep(0.3)
    cloud.wait_until_idle(timeout=60, settle=2)
    calls = Counter(cloud.runtime.calls)
    calls.subtract(calls_before)
    invocations = Counter(cloud.runtime.invocations)
    invocations.subtract(invocations_before)
    logical = {spec.name: spec.logical_id for spec in cloud.runtime.functions.values()}
    by_function = Counter(cloud.runtime.calls_by_function)
    by_function.subtract(by_function_before)
    capacity = {key: units - capacity_before.get(key, 0.0) for key, units in cloud.runtime.capacity.items()}
    memory_gb = {spec.name: spec.memory_mb / 1024 for spec in cloud.runtime.functions.values()}
    gb_seconds = sum(
        (ms - duration_before.get(name, 0.0)) / 1000 * memory_gb[name] for name, ms in cloud.runtime.duration_ms.items()
    )
    transitions, payment_commands, saga_seconds = _saga(cloud, order_id)
    return OrderCalls(
        path=path,
        calls=+calls,
        by_function=Counter({(logical[name], call): n for (name, call), n in by_function.items() if n > 0}),
        transitions=transitions,
        poller_requests=2 * (_batches(cloud) - batches_before),
        invocations=+invocations,
        capacity={key: units for key, units in capacity.items() if units},
        gb_seconds=gb_seconds,
        sqs_task_messages=payment_commands,
        log_bytes=sum(cloud.runtime.log_bytes.values()) - logged_before,
        bus_events=_outbox_events(cloud, order_id),
        saga_seconds=saga_seconds,
    )


def status(cloud: LocalCloud, order_id: str) -> str:
    summary = cloud.client("dynamodb").get_item(
        TableName=cloud.table_name("OrderViews"), Key={"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}}
    )
    return str(summary.get("Item", {}).get("status", {}).get("S", "PENDING"))


def _batches(cloud: LocalCloud) -> int:
    return int(cloud.activity.counters["sqs_batch"])


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
