"""Payment records (one per order), and the answer to the saga's waiting task."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from orderflow.adapters.clients import shared_client
from orderflow.adapters.dynamodb import from_item, put, to_item
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import Transaction
from orderflow.contracts import Key
from orderflow.domain.payments import Payment, PaymentStatus


class DynamoDbPayments:
    """Payment records (one per order), staged in a unit of work's transaction."""

    def __init__(self, table: str, transaction: Transaction, client: Any) -> None:
        self._table = table
        self._transaction = transaction
        self._client = client

    def get(self, order_id: str) -> Payment | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        return Payment.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def add(self, payment: Payment) -> None:
        self._transaction.stage(
            put(self._table, _record(payment), "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID}),
            partial(AlreadyExists, payment.order_id),
        )

    def update(self, payment: Payment, *, expected_status: PaymentStatus) -> None:
        self._transaction.stage(
            put(
                self._table,
                _record(payment),
                "#status = :expected",
                names={"#status": "status"},
                values={":expected": str(expected_status)},
            ),
            partial(AlreadyExists, payment.order_id),
        )


def _record(payment: Payment) -> dict[str, Any]:
    return payment.model_dump(mode="json", exclude_none=True)


class TaskResponder:
    """Answers a Step Functions task waiting on a token (`.waitForTaskToken`)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client if client is not None else shared_client("stepfunctions")

    def heartbeat(self, token: str) -> bool:
        """The command was picked up (the task's heartbeat timeout measures the time to this)."""
        return self._answer(lambda: self._client.send_task_heartbeat(taskToken=token))

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._answer(lambda: self._client.send_task_success(taskToken=token, output=json.dumps(output)))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._answer(lambda: self._client.send_task_failure(taskToken=token, error=error, cause=cause[:32_000]))

    def _answer(self, call: Any) -> bool:
        """False when the task is no longer waiting (it timed out, or this is a redelivered
        command whose task was already answered): there is nobody left to tell."""
        try:
            call()
        except (self._client.exceptions.TaskTimedOut, self._client.exceptions.InvalidToken):
            return False
        return True
