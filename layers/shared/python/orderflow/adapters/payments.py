"""Payment records (one per order) written with their outbox events in one transaction, and
the answer to the saga's waiting task."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from orderflow.adapters.clients import shared_client
from orderflow.adapters.dynamodb import TransactionCancelled, dynamodb_client, from_item, put, to_item, transact
from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.outbox import outbox_put
from orderflow.contracts import Key
from orderflow.events import Envelope


class PaymentStatus(StrEnum):
    PAID = "PAID"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    status: PaymentStatus
    amount: Decimal
    currency: str
    payment_id: str | None = None
    reason: str | None = None


class PaymentStore(Protocol):
    def get(self, order_id: str) -> Payment | None: ...

    def save(self, payment: Payment, event: Envelope[Any], *, previous: PaymentStatus | None) -> None:
        """`AlreadyExists` when the payment is no longer in `previous` (applied before)."""
        ...


class DynamoDbPayments:
    def __init__(
        self, *, payments_table: str, outbox_table: str, outbox_retention: timedelta, client: Any | None = None
    ) -> None:
        self._table = payments_table
        self._outbox = outbox_table
        self._retention = outbox_retention
        self._client = dynamodb_client(client)

    def get(self, order_id: str) -> Payment | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.ORDER_ID: order_id}), ConsistentRead=True
        )
        return Payment.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def save(self, payment: Payment, event: Envelope[Any], *, previous: PaymentStatus | None) -> None:
        values = payment.model_dump(mode="json", exclude_none=True)
        if previous is None:
            record = put(self._table, values, "attribute_not_exists(#id)", names={"#id": Key.ORDER_ID})
        else:
            record = put(
                self._table, values, "#status = :previous", names={"#status": "status"}, values={":previous": previous}
            )
        try:
            transact(self._client, [record, outbox_put(self._outbox, event, retention=self._retention)])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise AlreadyExists(payment.order_id) from cancelled
            raise


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
