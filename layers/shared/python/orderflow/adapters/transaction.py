"""One DynamoDB transaction: repositories stage their writes, `commit()` sends them as one
`TransactWriteItems` and turns DynamoDB's answer into a domain outcome.

When DynamoDB cancels a transaction it answers `TransactionCanceledException` with one reason
per item, in the order the items were sent
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):

- `ConditionalCheckFailed`: that item's condition is false. The repository that staged the item
  said what that means (the order moved on, the step ran before, the stock changed): that
  outcome is raised; the first such item, in staging order, wins.
- `TransactionConflict`: another request touched one of the items at the same moment (two
  orders for one sku). `ThrottlingError` / `ProvisionedThroughputExceeded`: the table or the
  partition is over its throughput. Nothing was written and nothing was decided: the same
  transaction is sent again after a jittered backoff, and only when the attempts are spent does
  it end in `Contention`, a transient error its caller retries, never a business outcome.
- `ValidationError` (an item over 400 KB, two operations on one item, an invalid expression)
  and `ItemCollectionSizeLimitExceeded` (a partition with a local index over 10 GB): the same
  request can never succeed, so `WriteRejected`, at once.

Each commit sends its own `ClientRequestToken` and keeps it while the whole call is refused
(throttled, or a 500 that may have been applied after all): DynamoDB treats a repeat with the
same token within 10 minutes as the same request, so a transaction is never applied twice. A
cancelled transaction was decided and not applied: the attempt after it is a new request, with
a new token.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from orderflow.domain.errors import Contention, WriteRejected
from orderflow.limits import TRANSACTION_MAX_ITEMS

CONDITION_FAILED = "ConditionalCheckFailed"
RETRIED_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# Whole-call errors that mean "not now" once the SDK's own retries are spent.
RETRIED_ERRORS = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)
ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0


@dataclass(frozen=True)
class Write:
    """One staged item: the request (`{"Put": ...}`, `{"Update": ...}`, ...) and the domain
    outcome its condition failing stands for."""

    request: dict[str, Any]
    on_condition_failed: Callable[[], Exception]


def outcome(reasons: list[str], writes: list[Write]) -> Exception | None:
    """What a cancellation means: the domain outcome to raise, or None when the transaction is
    to be sent again (conflict, throttling)."""
    for index, reason in enumerate(reasons):
        if reason not in ("None", CONDITION_FAILED, *RETRIED_REASONS):
            return WriteRejected(f"item {index}: {reason}")
    for index, reason in enumerate(reasons):
        if reason == CONDITION_FAILED and index < len(writes):
            return writes[index].on_condition_failed()
    if any(reason in RETRIED_REASONS for reason in reasons):
        return None
    return WriteRejected(f"cancelled with reasons {', '.join(reasons) or 'none given'}")


def _reasons(error: ClientError) -> list[str]:
    return [reason.get("Code") or "None" for reason in error.response.get("CancellationReasons", [])]


class Transaction:
    """The writes of one unit of work, sent together by `commit()`."""

    def __init__(
        self,
        client: Any,
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._sleep = sleep
        self._jitter = jitter
        self._writes: list[Write] = []

    def stage(self, request: dict[str, Any], on_condition_failed: Callable[[], Exception]) -> None:
        self._writes.append(Write(request, on_condition_failed))

    def discard(self) -> None:
        self._writes = []

    def commit(self) -> None:
        """Write everything staged, atomically, or raise the outcome (nothing written)."""
        writes, self._writes = self._writes, []
        if not writes:
            return
        if len(writes) > TRANSACTION_MAX_ITEMS:
            raise WriteRejected(
                f"{len(writes)} items in one transaction; DynamoDB takes at most {TRANSACTION_MAX_ITEMS}"
            )
        last: Exception | None = None
        token = str(uuid.uuid4())
        for attempt in range(self._attempts):
            if attempt:
                # Full jitter: competing writers spread out instead of colliding again.
                self._sleep(self._jitter(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
            try:
                self._client.transact_write_items(
                    TransactItems=[write.request for write in writes], ClientRequestToken=token
                )
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == "TransactionCanceledException":
                    decided = outcome(_reasons(error), writes)
                    if decided is not None:
                        raise decided from error
                    token = str(uuid.uuid4())
                elif code == "ValidationException":
                    raise WriteRejected(str(error)) from error
                elif code not in RETRIED_ERRORS:
                    raise
                last = error
        raise Contention(f"transaction of {len(writes)} items not accepted after {self._attempts} attempts") from last
