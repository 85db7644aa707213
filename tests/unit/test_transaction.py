"""How one DynamoDB transaction's answer becomes a domain outcome: DynamoDB's own error shapes,
served by botocore's Stubber (no network), and the staged writes that were sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.transaction import BACKOFF_CAP_SECONDS, Transaction, Write, outcome
from orderflow.domain.errors import ConcurrentUpdate, Contention, WriteRejected
from orderflow.limits import TRANSACTION_MAX_ITEMS
from tests.support.aws import REGION


def _put(table: str, key: str) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"id": {"S": key}}}}


WRITES = [
    Write(_put("orders", "o-1"), lambda: ConcurrentUpdate("o-1")),
    Write(_put("reservations", "o-1"), lambda: AlreadyExists("o-1")),
]


SENT = {"TransactItems": [write.request for write in WRITES], "ClientRequestToken": ANY}


def _cancelled(stubber: Stubber, *reasons: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message=f"Transaction cancelled, please refer cancellation reasons [{', '.join(reasons)}]",
        modeled_fields={"CancellationReasons": [{"Code": reason} for reason in reasons]},
        expected_params=SENT,
    )


class Tokens:
    """A DynamoDB client that keeps each `TransactWriteItems` call's `ClientRequestToken`."""

    def __init__(self, client: Any) -> None:
        self.sent: list[str] = []
        client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", self._keep)

    def _keep(self, params: dict[str, Any], **_: Any) -> None:
        self.sent.append(params["ClientRequestToken"])


@pytest.fixture
def dynamodb() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _transaction(client: Any, sleeps: list[float], attempts: int = 5) -> Transaction:
    transaction = Transaction(client, attempts=attempts, sleep=sleeps.append, jitter=lambda low, high: high)
    for write in WRITES:
        transaction.stage(write.request, write.on_condition_failed)
    return transaction


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        (["ConditionalCheckFailed", "None"], ConcurrentUpdate),
        (["None", "ConditionalCheckFailed"], AlreadyExists),
        (["ConditionalCheckFailed", "ConditionalCheckFailed"], ConcurrentUpdate),  # staging order decides
        (["TransactionConflict", "ConditionalCheckFailed"], AlreadyExists),  # a condition is a fact
        (["None", "ValidationError"], WriteRejected),
        (["ItemCollectionSizeLimitExceeded", "None"], WriteRejected),
        (["SomethingNew", "None"], WriteRejected),
        ([], WriteRejected),
    ],
)
def test_each_cancellation_reason_maps_to_one_outcome(reasons: list[str], expected: type[Exception]) -> None:
    assert isinstance(outcome(reasons, WRITES), expected)


@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"])
def test_conflicts_and_throttling_are_sent_again_not_decided(reason: str) -> None:
    assert outcome(["None", reason], WRITES) is None


def test_a_conflict_is_retried_with_jittered_backoff_and_then_commits(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    sleeps: list[float] = []
    tokens = Tokens(client)
    _cancelled(stubber, "TransactionConflict", "None")
    _cancelled(stubber, "None", "ThrottlingError")
    stubber.add_response("transact_write_items", {}, SENT)

    _transaction(client, sleeps).commit()

    assert len(sleeps) == 2
    assert sleeps[0] < sleeps[1] <= BACKOFF_CAP_SECONDS
    assert len(set(tokens.sent)) == 3  # a cancelled transaction was decided: each retry is a new request


def test_contention_that_lasts_ends_in_contention_not_a_business_outcome(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    for _ in range(3):
        _cancelled(stubber, "TransactionConflict", "None")

    with pytest.raises(Contention):
        _transaction(client, [], attempts=3).commit()


def test_a_failed_condition_raises_its_items_outcome_at_once(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    sleeps: list[float] = []
    _cancelled(stubber, "None", "ConditionalCheckFailed")

    with pytest.raises(AlreadyExists):
        _transaction(client, sleeps).commit()
    assert sleeps == []


def test_an_invalid_transaction_is_rejected_without_retrying(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="ValidationException",
        service_message="Transaction request cannot include multiple operations on one item",
    )

    with pytest.raises(WriteRejected, match="multiple operations"):
        _transaction(client, []).commit()


def test_more_items_than_dynamodb_takes_are_refused_before_sending(dynamodb: tuple[Any, Stubber]) -> None:
    client, _ = dynamodb
    transaction = Transaction(client)
    for index in range(TRANSACTION_MAX_ITEMS + 1):
        transaction.stage(_put("outbox", f"e-{index}"), lambda: AlreadyExists("e"))

    with pytest.raises(WriteRejected, match="at most 100"):
        transaction.commit()


def test_nothing_staged_sends_nothing(dynamodb: tuple[Any, Stubber]) -> None:
    client, _ = dynamodb
    Transaction(client).commit()  # the Stubber fails on any unexpected call


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
def test_a_refused_whole_call_is_sent_again_with_the_same_token(dynamodb: tuple[Any, Stubber], code: str) -> None:
    """Throttled, or a 500 that may have been applied: the same token makes the repeat the same
    request to DynamoDB, never a second application."""
    client, stubber = dynamodb
    tokens = Tokens(client)
    sleeps: list[float] = []
    stubber.add_client_error("transact_write_items", service_error_code=code, expected_params=SENT)
    stubber.add_response("transact_write_items", {}, SENT)

    _transaction(client, sleeps).commit()

    assert len(sleeps) == 1
    assert len(tokens.sent) == 2
    assert len(set(tokens.sent)) == 1


def test_an_error_that_is_neither_a_cancellation_nor_contention_is_raised_as_it_is(
    dynamodb: tuple[Any, Stubber],
) -> None:
    client, stubber = dynamodb
    stubber.add_client_error("transact_write_items", service_error_code="ResourceNotFoundException")

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        _transaction(client, []).commit()


def test_a_repository_whose_table_the_function_lacks_fails_naming_it() -> None:
    from orderflow.adapters.unit_of_work import DynamoDbUnitOfWork, StoreTables
    from orderflow.settings import ShippingSettings

    settings = ShippingSettings.model_validate({"OUTBOX_TABLE": "outbox", "SHIPMENTS_TABLE": "shipments"})
    uow = DynamoDbUnitOfWork(StoreTables.of(settings), client=boto3.client("dynamodb", region_name=REGION))

    assert StoreTables.of(settings) == StoreTables(outbox="outbox", shipments="shipments")
    with pytest.raises(RuntimeError, match="no payments table"):
        uow.payments.get("o-1")
