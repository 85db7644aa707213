"""The payment gateway: the port a real payment provider's client implements, and the simulated
provider orderflow ships behind it.

The port (`PaymentGateway`) is the contract: `charge` moves money once per idempotency key and
raises `PaymentDeclined` (final: the card said no) or `PaymentGatewayError` (transient: the
provider failed, timed out or could not be reached; the charge may or may not have been applied,
and sending it again with the same key is safe); `refund` refunds a charge in full; `find` reads
the charge held under a key, so a caller that lost an answer can learn what happened.

The simulated provider behaves as card processors document theirs (Stripe's "Idempotent
requests", Adyen's "API idempotency"):

- the first request with a key that reaches the money fixes the key's result, applied or
  declined; every later request with the key gets that same result (the same payment id, the
  same decline) and moves nothing;
- a request that failed before reaching the money (provider down, a processing error) fixes
  nothing: sending it again with the key may charge;
- a key sent again with another amount, currency or reference is refused
  (`IdempotencyKeyReused`), a caller's defect;
- a refund has its own key; refunding a charge refunded already moves nothing.

Test cards, like a processor's: `tok_declined` is declined, `tok_flaky` fails twice (a
processing error) and then succeeds, `tok_unavailable` always fails; any other token is charged.

Its ledger is append-only: one entry per request it received, with what it did (`LedgerEntry`).
Money moved is the sum of the entries' `moved`, which is what a reconciliation reads.

It can misbehave as a real provider does, when told to by a `Behaviour` (the local cloud's fault
plan is one): be down (every request fails before reaching the money), answer slowly, or lose
the answer of a charge it applied (the caller sees a timeout after the money moved).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from orderflow.adapters.dynamodb import dynamodb_client, from_item, to_item
from orderflow.contracts import Key
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError

FLAKY_FAILURES = 2
STORE_ATTEMPTS = 6
STORE_BACKOFF_SECONDS = 0.02
# Test cards, not secrets.
TOKEN_DECLINED = "tok_declined"  # noqa: S105
TOKEN_FLAKY = "tok_flaky"  # noqa: S105
TOKEN_UNAVAILABLE = "tok_unavailable"  # noqa: S105

CHARGE, REFUND = "charge", "refund"
# What the provider did with a request (a ledger entry's `outcome`).
CHARGED, DECLINED, FAILED = "charged", "declined", "failed"
REFUNDED, REPLAYED, ALREADY_REFUNDED = "refunded", "replayed", "already_refunded"
# The status of a charge (the idempotency record).
STATUS_CHARGED, STATUS_DECLINED, STATUS_REFUNDED = "CHARGED", "DECLINED", "REFUNDED"


@dataclass(frozen=True)
class Charge:
    payment_id: str
    amount: Decimal
    currency: str


class IdempotencyKeyReused(ValueError):
    """An idempotency key sent again with other parameters: the caller's defect, never retried."""


class UnknownPayment(ValueError):
    """A refund for a payment the provider never made."""


class PaymentGateway(Protocol):
    def charge(self, *, idempotency_key: str, reference: str, amount: Decimal, currency: str, token: str) -> Charge:
        """Charge once per key (`reference` is the caller's own id for the charge, the order).
        Raises `PaymentDeclined` (final) or `PaymentGatewayError` (transient, outcome unknown)."""
        ...

    def refund(self, *, payment_id: str, idempotency_key: str) -> None:
        """Refund the charge in full, once per key; a refunded charge is left as it is.
        Raises `PaymentGatewayError` (transient)."""
        ...

    def find(self, *, idempotency_key: str) -> Charge | None:
        """The charge held under this key and not refunded, if any."""
        ...


@dataclass(frozen=True)
class LedgerEntry:
    """One request the provider received and what it did with it."""

    at: str  # sortable: the order requests were received in
    operation: str  # charge | refund
    idempotency_key: str
    charge_key: str  # the idempotency key of the charge it concerns
    reference: str
    outcome: str  # charged | declined | failed | refunded | replayed | already_refunded
    moved: Decimal  # money moved to the merchant: +amount charged, -amount refunded, else 0
    currency: str
    payment_id: str = ""
    detail: str = ""


class Behaviour(Protocol):
    """How the provider misbehaves, asked once per request."""

    def before(self, operation: str) -> None:
        """Before the request is handled: may wait (a slow answer) or raise
        `PaymentGatewayError` (down: nothing is received)."""
        ...

    def after_applied(self, operation: str) -> None:
        """After money moved: may raise `PaymentGatewayError` (the answer is lost)."""
        ...


class Reliable:
    """Never misbehaves (the default)."""

    def before(self, operation: str) -> None:  # noqa: ARG002 - the same for every operation
        return None

    def after_applied(self, operation: str) -> None:  # noqa: ARG002 - the same for every operation
        return None


class SimulatedGateway:
    # How every simulated provider in this process behaves; the local cloud's fault plan sets it.
    behaviour: ClassVar[Behaviour] = Reliable()

    def __init__(self, ledger_table: str, client: Any | None = None) -> None:
        self._table = ledger_table
        self._client = dynamodb_client(client)

    def charge(self, *, idempotency_key: str, reference: str, amount: Decimal, currency: str, token: str) -> Charge:
        self.behaviour.before(CHARGE)
        request = {"charge_key": idempotency_key, "reference": reference, "amount": amount, "currency": currency}
        try:
            charged = self._charge(idempotency_key, request, token)
            if charged is None:
                return self._replay(idempotency_key, request)
        except (ClientError, BotoCoreError) as error:  # the provider's own store failed: a 5xx
            raise PaymentGatewayError(f"provider error: {error}") from error
        self.behaviour.after_applied(CHARGE)
        return charged

    def refund(self, *, payment_id: str, idempotency_key: str) -> None:
        self.behaviour.before(REFUND)
        try:
            self._refund(payment_id, idempotency_key)
        except (ClientError, BotoCoreError) as error:
            raise PaymentGatewayError(f"provider error: {error}") from error

    def find(self, *, idempotency_key: str) -> Charge | None:
        self.behaviour.before("find")
        try:
            record = self._record(f"charge#{idempotency_key}")
        except (ClientError, BotoCoreError) as error:
            raise PaymentGatewayError(f"provider error: {error}") from error
        if record.get("status") != STATUS_CHARGED:
            return None
        return Charge(payment_id=record["payment_id"], amount=record["amount"], currency=record["currency"])

    # --- reconciliation --------------------------------------------------------------------

    def entries(self) -> list[LedgerEntry]:
        """Every request received, oldest first."""
        paginator = self._client.get_paginator("scan")
        items = [from_item(item) for page in paginator.paginate(TableName=self._table) for item in page["Items"]]
        entries = [_entry(item) for item in items if str(item[Key.LEDGER_KEY]).startswith("entry#")]
        return sorted(entries, key=lambda entry: entry.at)

    # --- the provider's own store -------------------------------------------------------------

    def _store(self, operation: str, **params: Any) -> Any:
        """A write to the provider's store, sent again while it meets a transaction on the same
        record (two requests with one key at once): nothing of a conflicting write was applied,
        and a provider serializes requests on one key rather than failing one of them."""
        for attempt in range(STORE_ATTEMPTS):
            try:
                return getattr(self._client, operation)(**params)
            except ClientError as error:
                if not _conflict(error) or attempt + 1 == STORE_ATTEMPTS:
                    raise
                time.sleep(STORE_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    # --- charging ----------------------------------------------------------------------------

    def _charge(self, key: str, request: dict[str, Any], token: str) -> Charge | None:
        """The charge applied now, or None when the key has a result already. Raises the
        decline (fixing it as the key's result) or a processing error (fixing nothing)."""
        record = self._attempt(key, request)
        _refuse_reuse(key, record, request)
        if "status" in record:
            return None
        if token == TOKEN_DECLINED:
            if self._settle(key, request, status=STATUS_DECLINED, reason="card_declined"):
                raise PaymentDeclined("card_declined")
            return None
        attempts = int(record["attempts"])
        if token == TOKEN_UNAVAILABLE or (token == TOKEN_FLAKY and attempts <= FLAKY_FAILURES):
            detail = f"processing error (attempt {attempts})"
            self._append(CHARGE, key, request, outcome=FAILED, detail=detail)
            raise PaymentGatewayError(detail)
        payment_id = f"pay_{uuid.uuid4().hex[:16]}"
        if not self._settle(key, request, status=STATUS_CHARGED, payment_id=payment_id):
            return None  # a concurrent request with the key applied it first
        return Charge(payment_id=payment_id, amount=request["amount"], currency=request["currency"])

    def _attempt(self, key: str, request: dict[str, Any]) -> dict[str, Any]:
        """Count an attempt on the key's record, which keeps the first request's parameters;
        the record (with its result, if fixed)."""
        names = ("reference", "amount", "currency")
        answer = self._store(
            "update_item",
            TableName=self._table,
            Key=to_item({Key.LEDGER_KEY: f"charge#{key}"}),
            UpdateExpression="ADD attempts :one SET "
            + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in names),
            ExpressionAttributeNames={f"#{name}": name for name in names},
            ExpressionAttributeValues=to_item({":one": 1, **{f":{name}": request[name] for name in names}}),
            ReturnValues="ALL_NEW",
        )
        return from_item(answer["Attributes"])

    def _settle(
        self, key: str, request: dict[str, Any], *, status: str, payment_id: str = "", reason: str = ""
    ) -> bool:
        """Fix the key's result and append its entry, in one transaction; False when another
        request fixed it first."""
        charged = status == STATUS_CHARGED
        named = {"status": status, "payment_id": payment_id, "reason": reason}
        values_named = {**named, **{name: request[name] for name in ("reference", "amount", "currency")}}
        values = {f":{name}": value for name, value in values_named.items()}
        entry = self._entry_item(
            CHARGE,
            key,
            request,
            outcome=CHARGED if charged else DECLINED,
            moved=request["amount"] if charged else Decimal(0),
            payment_id=payment_id,
            detail=reason,
        )
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item({Key.LEDGER_KEY: f"charge#{key}"}),
                    "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in values_named),
                    "ConditionExpression": "attribute_not_exists(#status)",
                    "ExpressionAttributeNames": {f"#{name}": name for name in values_named},
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            {"Put": {"TableName": self._table, "Item": to_item(entry)}},
        ]
        if charged:
            pointer = {Key.LEDGER_KEY: f"payment#{payment_id}", "charge_key": key}
            writes.append({"Put": {"TableName": self._table, "Item": to_item(pointer)}})
        try:
            self._store("transact_write_items", TransactItems=writes)
        except self._client.exceptions.TransactionCanceledException as cancelled:
            reasons = [reason.get("Code") for reason in cancelled.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def _replay(self, key: str, request: dict[str, Any]) -> Charge:
        """The key's result, answered again (a retry, or a request that lost a race)."""
        record = self._record(f"charge#{key}")
        _refuse_reuse(key, record, request)
        self._append(CHARGE, key, request, outcome=REPLAYED, payment_id=record.get("payment_id", ""))
        if record["status"] == STATUS_DECLINED:
            raise PaymentDeclined(record.get("reason") or "card_declined")
        return Charge(payment_id=record["payment_id"], amount=record["amount"], currency=record["currency"])

    # --- refunding ---------------------------------------------------------------------------

    def _refund(self, payment_id: str, key: str) -> None:
        pointer = self._record(f"payment#{payment_id}")
        if not pointer:
            raise UnknownPayment(f"no payment {payment_id}")
        charge_key = pointer["charge_key"]
        charge = self._record(f"charge#{charge_key}")
        request = {
            "charge_key": charge_key,
            "reference": charge["reference"],
            "amount": charge["amount"],
            "currency": charge["currency"],
        }
        entry = self._entry_item(REFUND, key, request, outcome=REFUNDED, moved=-charge["amount"], payment_id=payment_id)
        try:
            self._store(
                "transact_write_items",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item({Key.LEDGER_KEY: f"refund#{key}", "payment_id": payment_id}),
                            "ConditionExpression": "attribute_not_exists(#key)",
                            "ExpressionAttributeNames": {"#key": Key.LEDGER_KEY},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({Key.LEDGER_KEY: f"charge#{charge_key}"}),
                            "UpdateExpression": "SET #status = :refunded",
                            "ConditionExpression": "#status = :charged AND payment_id = :id",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": to_item(
                                {":refunded": STATUS_REFUNDED, ":charged": STATUS_CHARGED, ":id": payment_id}
                            ),
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(entry)}},
                ],
            )
        except self._client.exceptions.TransactionCanceledException as cancelled:
            reasons = [reason.get("Code") for reason in cancelled.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons[:2]:
                raise
            if reasons[0] == "ConditionalCheckFailed":
                previous = self._record(f"refund#{key}")
                if previous.get("payment_id") != payment_id:
                    raise IdempotencyKeyReused(f"idempotency key {key} refunded another payment") from None
                self._append(REFUND, key, request, outcome=REPLAYED, payment_id=payment_id)
            else:  # refunded under another key already
                self._append(REFUND, key, request, outcome=ALREADY_REFUNDED, payment_id=payment_id)
            return
        self.behaviour.after_applied(REFUND)

    # --- storage -----------------------------------------------------------------------------

    def _record(self, key: str) -> dict[str, Any]:
        answer = self._client.get_item(TableName=self._table, Key=to_item({Key.LEDGER_KEY: key}), ConsistentRead=True)
        return from_item(answer["Item"]) if "Item" in answer else {}

    def _append(self, operation: str, key: str, request: dict[str, Any], **fields: Any) -> None:
        item = self._entry_item(operation, key, request, **fields)
        self._store("put_item", TableName=self._table, Item=to_item(item))

    @staticmethod
    def _entry_item(
        operation: str,
        key: str,
        request: dict[str, Any],
        *,
        outcome: str,
        moved: Decimal = Decimal(0),
        payment_id: str = "",
        detail: str = "",
    ) -> dict[str, Any]:
        at = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        return {
            Key.LEDGER_KEY: f"entry#{at}",
            "at": at,
            "operation": operation,
            "idempotency_key": key,
            "charge_key": request["charge_key"],
            "reference": request["reference"],
            "outcome": outcome,
            "moved": moved,
            "currency": request["currency"],
            "payment_id": payment_id,
            "detail": detail,
        }


def _refuse_reuse(key: str, record: dict[str, Any], request: dict[str, Any]) -> None:
    """A key's first request fixes its parameters: another amount, currency or reference is a
    caller's defect (a record from before parameters were kept is not compared)."""
    different = [
        name for name in ("reference", "amount", "currency") if name in record and record[name] != request[name]
    ]
    if different:
        raise IdempotencyKeyReused(f"idempotency key {key} was used with another {', '.join(different)}")


def _entry(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        at=item["at"],
        operation=item["operation"],
        idempotency_key=item["idempotency_key"],
        charge_key=item["charge_key"],
        reference=item["reference"],
        outcome=item["outcome"],
        moved=Decimal(str(item["moved"])),
        currency=item["currency"],
        payment_id=item.get("payment_id", ""),
        detail=item.get("detail", ""),
    )


def _conflict(error: ClientError) -> bool:
    """A write DynamoDB refused because a transaction held its item, applying nothing."""
    if error.response.get("Error", {}).get("Code") == "TransactionConflictException":
        return True
    reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
    return "TransactionConflict" in reasons and set(reasons) <= {"TransactionConflict", "None"}
