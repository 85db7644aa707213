"""Transaction conflicts on demand for in-process moto tests: DynamoDB's own answer when another
request touches an item of a transaction at the same moment (moto, serving one request at a
time, never gives it)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse

from localcloud.faults import transaction_conflict

EVENT = "before-call.dynamodb.TransactWriteItems"


class Conflicts:
    """While active, the first attempt of every transaction `client` sends is cancelled with
    `TransactionConflict` (attempts alternate: conflict, through, conflict, ...), or every
    attempt with `every_attempt`; the table of each conflicted transaction's first item is
    counted in `tables`."""

    def __init__(self, client: Any, *, every_attempt: bool = False) -> None:
        self._client = client
        self._every_attempt = every_attempt
        self._conflict_next = True
        self.tables: Counter[str] = Counter()

    def __enter__(self) -> Conflicts:
        self._client.meta.events.register_first(EVENT, self._answer, unique_id="tests-conflicts")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.meta.events.unregister(EVENT, unique_id="tests-conflicts")

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        conflict, self._conflict_next = self._conflict_next, self._every_attempt or not self._conflict_next
        if not conflict:
            return None
        items = json.loads(params["body"])["TransactItems"]
        operation = next(iter(items[0].values()))
        self.tables[operation["TableName"]] += 1
        return AWSResponse("https://dynamodb.local", 400, {}, None), transaction_conflict(len(items))
