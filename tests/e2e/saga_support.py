"""Placing orders through the local API and reading what the saga did."""

from __future__ import annotations

import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from localcloud.cloud import LocalCloud
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.payment_gateway import CHARGE, CHARGED, DECLINED, SimulatedGateway

TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}


def place(cloud: LocalCloud, token: str, items: list[dict[str, Any]] | None = None, currency: str = "EUR") -> str:
    body = {
        "customer_id": "saga-tests",
        "items": items or [{"sku": "MS-002", "quantity": 1}],
        "currency": currency,
        "payment_token": token,
    }
    answer = cloud.api.request("POST", "/orders", body)
    assert answer.status == 202, answer.body
    return str(answer.body["order_id"])


def publish_event(cloud: LocalCloud, event: Any) -> None:
    """An event on the order events topic, as the relay publishes it (its group, its id, its
    type for the subscriptions' filter policies)."""
    cloud.client("sns").publish(
        TopicArn=cloud.deployment.outputs["OrderEventsTopic"],
        Message=event.to_json(),
        MessageGroupId=event.subject,
        MessageDeduplicationId=event.id,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": str(event.type)}},
    )


def view(cloud: LocalCloud, order_id: str) -> dict[str, Any]:
    return dict(cloud.api.request("GET", f"/orders/{order_id}").body)


def wait_terminal(cloud: LocalCloud, *order_ids: str, timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    views: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        views = {order_id: view(cloud, order_id) for order_id in order_ids}
        if all(v["status"] in TERMINAL for v in views.values()):
            return views
        time.sleep(1.0)
    raise AssertionError(f"not terminal in time: { {k: v['status'] for k, v in views.items()} }")


def view_showing(cloud: LocalCloud, order_id: str, event_type: str, timeout: float = 20.0) -> dict[str, Any]:
    """The order's view once its timeline shows `event_type` (projection runs behind the saga)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = view(cloud, order_id)
        if event_type in types(shown):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{order_id}: no {event_type} in {types(shown)}")


def types(order_view: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in order_view["timeline"]]


def stock(cloud: LocalCloud) -> dict[str, dict[str, int]]:
    items = cloud.client("dynamodb").scan(TableName=cloud.table_name("Catalogue"))["Items"]
    return {
        item["sku"]: {key: int(item.get(key, 0)) for key in ("available", "reserved", "sold")}
        for item in map(from_item, items)
    }


def ledger(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """What the simulated provider did for each order (its reference), from its ledger: the
    money kept (`amount`), `status` CHARGED / REFUNDED / DECLINED, and the charge requests it
    received (`attempts`)."""
    gateway = SimulatedGateway(cloud.table_name("PaymentLedger"), client=cloud.client("dynamodb"))
    orders: dict[str, dict[str, Any]] = {}
    for entry in gateway.entries():
        order = orders.setdefault(entry.reference, {"amount": Decimal(0), "attempts": 0, "outcomes": []})
        order["amount"] += entry.moved
        order["attempts"] += entry.operation == CHARGE
        order["outcomes"].append(entry.outcome)
    for order in orders.values():
        outcomes = order["outcomes"]
        order["status"] = (
            "CHARGED"
            if order["amount"]
            else "REFUNDED"
            if CHARGED in outcomes
            else "DECLINED"
            if DECLINED in outcomes
            else "FAILED"
        )
    return orders


def executions(cloud: LocalCloud, order_id: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=cloud.deployment.outputs["StateMachine"])["executions"]
    return [execution for execution in found if execution["name"] == order_id]


def saga_outcome(cloud: LocalCloud, order_id: str, timeout: float = 60.0) -> str:
    """The order's saga execution status once it has ended (the order can be terminal while
    the saga is still retrying a step that already took effect)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [execution["status"] for execution in executions(cloud, order_id)]
        if statuses and "RUNNING" not in statuses:
            return ",".join(statuses)
        time.sleep(0.5)
    raise AssertionError(f"the saga of {order_id} is still running")


def no_saga_running(cloud: LocalCloud, timeout: float = 90.0) -> None:
    """Wait until no saga execution runs: a test that injects faults into a saga's functions
    must not have them strike another test's order."""
    sfn, machine = cloud.client("stepfunctions"), cloud.deployment.outputs["StateMachine"]
    deadline = time.monotonic() + timeout
    while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise AssertionError("sagas still running")
        time.sleep(0.5)
    cloud.wait_until_idle()


def charged(entries: dict[str, dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(e["amount"])) for e in entries.values() if e.get("status") == "CHARGED"), Decimal(0))


def conserved(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, tuple[int, int]]:
    """Skus whose available + reserved + sold changed (should be none)."""
    broken: dict[str, tuple[int, int]] = defaultdict()
    for sku, levels in after.items():
        total_before = sum(before[sku].values())
        total_after = sum(levels.values())
        if total_before != total_after:
            broken[sku] = (total_before, total_after)
    return dict(broken)
