"""Malformed messages put straight on every consumer queue end in that queue's DLQ on their
first delivery, with the reason, and the consumer carries on."""

from __future__ import annotations

import json
import uuid

import pytest

from localcloud.cloud import LocalCloud
from localcloud.state import dead_letters
from tests.e2e.test_fidelity import _send
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_confirmed

QUEUES = ["OrderHistoryQueue", "NotificationsQueue", "FulfilmentPaymentsQueue", "FulfilmentShippingQueue"]


def _oversized() -> str:
    event = json.loads(order_confirmed("o-big").to_json())
    event["data"]["customer_id"] = "x" * 300_000  # far past the schema's limit, within SQS's 1 MiB
    return json.dumps(event)


MALFORMED = {
    "not-json": ("{this is not json", "Invalid JSON"),
    "wrong-schema": (json.dumps({**json.loads(order_confirmed("o-x").to_json()), "sequence": "first"}), "sequence"),
    "unknown-type": (
        json.dumps({**json.loads(order_confirmed("o-y").to_json()), "type": "OrderTeleported"}),
        "OrderTeleported",
    ),
    "oversized": (_oversized(), "customer_id"),
}


@pytest.mark.parametrize("queue", QUEUES)
def test_malformed_messages_are_dead_lettered_with_their_reason(cloud: LocalCloud, queue: str) -> None:
    groups = {kind: f"{kind}-{uuid.uuid4()}" for kind in MALFORMED}
    for kind, (body, _) in MALFORMED.items():
        _send(cloud, queue, groups[kind], body)

    letters = wait_for(
        lambda: (
            (found := {d.group: d for d in dead_letters(cloud) if d.group in groups.values()})
            and len(found) == len(groups)
            and found
        ),
        timeout=40,
    )

    for kind, (_, mentions) in MALFORMED.items():
        letter = letters[groups[kind]]
        assert letter.reason.startswith("MalformedMessage"), (kind, letter.reason)
        assert mentions in letter.reason, (kind, letter.reason)
        assert letter.deliveries == 1, kind  # dead-lettered at once, never retried
    crashed = [
        d
        for kind, d in list(cloud.activity.reports)
        if kind == "sqs_batch" and d.get("error") and d["error"].get("errorType", "").startswith("Runtime.")
    ]
    assert crashed == []  # the consumer process never died
