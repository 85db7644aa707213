"""The payment gateway: the integration point a real payment provider's SDK replaces.

orderflow ships a simulated provider with test tokens, like a card processor's test cards:
`tok_ok` is charged, `tok_declined` is declined, `tok_flaky` fails transiently twice and then
succeeds, `tok_unavailable` always fails transiently. Its ledger (a table) is the provider's
record of charges and refunds; charges are idempotent on the caller's key, as real providers'
are, so a retried charge is charged once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from orderflow.adapters.dynamodb import dynamodb_client, from_item, to_item
from orderflow.contracts import Key
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError

FLAKY_FAILURES = 2
# Test cards, not secrets.
TOKEN_DECLINED = "tok_declined"  # noqa: S105
TOKEN_FLAKY = "tok_flaky"  # noqa: S105
TOKEN_UNAVAILABLE = "tok_unavailable"  # noqa: S105


@dataclass(frozen=True)
class Charge:
    payment_id: str
    amount: Decimal
    currency: str


class PaymentGateway(Protocol):
    def charge(self, *, idempotency_key: str, amount: Decimal, currency: str, token: str) -> Charge:
        """Raises `PaymentDeclined` (final) or `PaymentGatewayError` (transient)."""
        ...

    def refund(self, *, payment_id: str, idempotency_key: str) -> None: ...

    def find(self, *, idempotency_key: str) -> Charge | None:
        """The charge held under this key and not refunded, if any."""
        ...


class SimulatedGateway:
    def __init__(self, ledger_table: str, client: Any | None = None) -> None:
        self._table = ledger_table
        self._client = dynamodb_client(client)

    def charge(self, *, idempotency_key: str, amount: Decimal, currency: str, token: str) -> Charge:
        attempts = self._count_attempt(idempotency_key)
        if token == TOKEN_DECLINED:
            raise PaymentDeclined("card_declined")
        if token == TOKEN_UNAVAILABLE or (token == TOKEN_FLAKY and attempts <= FLAKY_FAILURES):
            raise PaymentGatewayError(f"gateway timeout (attempt {attempts})")
        charge = Charge(payment_id=f"pay_{uuid.uuid4().hex[:16]}", amount=amount, currency=currency)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({Key.LEDGER_KEY: f"charge#{idempotency_key}"}),
                UpdateExpression="SET payment_id = :id, amount = :amount, currency = :currency, #status = :charged",
                ConditionExpression="attribute_not_exists(payment_id)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":id": charge.payment_id, ":amount": amount, ":currency": currency, ":charged": "CHARGED"}
                ),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return self._existing(idempotency_key)
        return charge

    def refund(self, *, payment_id: str, idempotency_key: str) -> None:
        """Refund a charge in full; refunding it again changes nothing."""
        self._client.update_item(
            TableName=self._table,
            Key=to_item({Key.LEDGER_KEY: f"charge#{idempotency_key}"}),
            UpdateExpression="SET #status = :refunded",
            ConditionExpression="payment_id = :id",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":refunded": "REFUNDED", ":id": payment_id}),
        )

    def find(self, *, idempotency_key: str) -> Charge | None:
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({Key.LEDGER_KEY: f"charge#{idempotency_key}"}), ConsistentRead=True
        )
        item = from_item(answer["Item"]) if "Item" in answer else {}
        if item.get("status") != "CHARGED":
            return None
        return Charge(payment_id=item["payment_id"], amount=item["amount"], currency=item["currency"])

    def ledger(self) -> list[dict[str, Any]]:
        """Every charge the provider holds (for reconciliation and tests)."""
        items = self._client.scan(TableName=self._table)["Items"]
        return [from_item(item) for item in items if from_item(item)[Key.LEDGER_KEY].startswith("charge#")]

    def _count_attempt(self, idempotency_key: str) -> int:
        answer = self._client.update_item(
            TableName=self._table,
            Key=to_item({Key.LEDGER_KEY: f"charge#{idempotency_key}"}),
            UpdateExpression="ADD attempts :one",
            ExpressionAttributeValues=to_item({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["attempts"]["N"])

    def _existing(self, idempotency_key: str) -> Charge:
        item = from_item(
            self._client.get_item(
                TableName=self._table, Key=to_item({Key.LEDGER_KEY: f"charge#{idempotency_key}"}), ConsistentRead=True
            )["Item"]
        )
        return Charge(payment_id=item["payment_id"], amount=item["amount"], currency=item["currency"])
