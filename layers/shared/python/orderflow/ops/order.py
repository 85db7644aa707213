"""One order's story: its read model, its saga execution, and any of its messages in a DLQ."""

from __future__ import annotations

from typing import Any

from orderflow.adapters.unit_of_work import DynamoDbUnitOfWork, StoreTables
from orderflow.ops.dlq import dead_letter_queues, show


def _table(dynamodb: Any, marker: str) -> str:
    names = [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]
    matches = [name for name in names if marker in name]
    if len(matches) != 1:
        raise SystemExit(f"expected one table named like {marker!r}, found {matches}")
    return str(matches[0])


def story(clients: Any, order_id: str) -> dict[str, Any]:
    dynamodb = clients("dynamodb")
    store = DynamoDbUnitOfWork(StoreTables(order_views=_table(dynamodb, "OrderViews")), client=dynamodb)
    view, timeline = store.views.get(order_id)
    sfn = clients("stepfunctions")
    execution: dict[str, Any] | None = None
    for machine in sfn.list_state_machines()["stateMachines"]:
        if "OrderFulfillment" in machine["name"]:
            arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{order_id}"
            try:
                found = sfn.describe_execution(executionArn=arn)
                execution = {"status": found["status"], "started": str(found["startDate"]), "arn": arn}
            except sfn.exceptions.ExecutionDoesNotExist:
                execution = None
    sqs = clients("sqs")
    dead = [
        {"queue": queue.name, "type": letter.event_type, "reason": letter.reason}
        for queue in dead_letter_queues(sqs)
        if queue.depth
        for letter in show(sqs, queue)
        if letter.order_id == order_id
    ]
    return {
        "order_id": order_id,
        "status": view.status if view else None,
        "reason": view.reason if view else None,
        "timeline": [f"{entry.time.isoformat()} {entry.type}" for entry in timeline],
        "saga": execution,
        "dead_letters": dead,
    }
