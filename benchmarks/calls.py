"""AWS calls per order: one order at a time through the local cloud, on each path, counting
every call every function made (botocore, in the local runtime's workers) by service and
operation, plus what the services do for the flow without a function calling them: the state
machine's transitions and its SQS task, and the SQS requests of Lambda's queue pollers.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from localcloud.api_client import call
from localcloud.cloud import LocalCloud

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
    transitions: int  # state transitions of the saga execution (Standard: the billed unit)
    poller_requests: int  # SQS ReceiveMessage + DeleteMessageBatch made by Lambda's pollers
    invocations: Counter[str]  # function -> invocations (the API's one included)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def measure(cloud: LocalCloud, path: str) -> OrderCalls:
    token, items = PATHS[path]
    assert cloud.wait_until_idle(timeout=60, settle=1)
    calls_before = Counter(cloud.runtime.calls)
    batches_before = _batches(cloud)
    invocations_before = Counter(cloud.runtime.invocations)
    body = {"customer_id": "bench", "items": items, "currency": "EUR", "payment_token": token}
    order_id = call(cloud.api.url, "POST", "/orders", body).body["order_id"]
    deadline = time.monotonic() + 120
    while _status(cloud, order_id) not in TERMINAL:  # read directly: no function call counted
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: order {order_id} did not finish")
        time.sleep(0.3)
    cloud.wait_until_idle(timeout=60, settle=2)
    calls = Counter(cloud.runtime.calls)
    calls.subtract(calls_before)
    invocations = Counter(cloud.runtime.invocations)
    invocations.subtract(invocations_before)
    return OrderCalls(
        path=path,
        calls=+calls,
        transitions=_transitions(cloud, order_id),
        poller_requests=2 * (_batches(cloud) - batches_before),
        invocations=+invocations,
    )


def _status(cloud: LocalCloud, order_id: str) -> str:
    summary = cloud.client("dynamodb").get_item(
        TableName=cloud.table_name("OrderViews"), Key={"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}}
    )
    return str(summary.get("Item", {}).get("status", {}).get("S", "PENDING"))


def _batches(cloud: LocalCloud) -> int:
    return int(cloud.activity.counters["sqs_batch"])


def _transitions(cloud: LocalCloud, order_id: str) -> int:
    sfn = cloud.client("stepfunctions")
    arn = str(cloud.deployment.outputs["StateMachine"])
    (execution,) = [e for e in sfn.list_executions(stateMachineArn=arn)["executions"] if e["name"] == order_id]
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    return sum(1 for event in events if event["type"].endswith("StateEntered"))
