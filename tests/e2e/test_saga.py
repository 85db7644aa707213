"""Every path of the fulfilment saga, on moto's ASL interpreter with the real task functions,
through the whole local cloud (API, outbox, relay, bus rule, saga, payments, shipping)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.settings import OrderflowSettings
from localcloud.cloud import LocalCloud
from localcloud.faults import Fault
from orderflow.contracts import EventSource
from orderflow.events import parse_event
from orderflow.events.models import ProcessPayment, ProcessPaymentData
from orderflow.events.types import Currency
from tests.e2e.saga_support import (
    charged,
    conserved,
    executions,
    ledger,
    no_saga_running,
    place,
    saga_outcome,
    stock,
    types,
    view,
    view_showing,
    wait_terminal,
)
from tests.e2e.test_fidelity import _send
from tests.e2e.test_order_flow import wait_for


def test_happy_path_confirms_then_ships(cloud: LocalCloud) -> None:
    order_id = place(cloud, "tok_ok", [{"sku": "KB-001", "quantity": 2}])

    final = wait_terminal(cloud, order_id)[order_id]

    assert final["status"] == "SHIPPED"
    assert types(final) == ["OrderCreated", "InventoryReserved", "PaymentReceived", "OrderConfirmed", "OrderShipped"]
    assert ledger(cloud)[order_id]["status"] == "CHARGED"
    assert Decimal(str(ledger(cloud)[order_id]["amount"])) == Decimal("178.00")
    assert [e["status"] for e in executions(cloud, order_id)] == ["SUCCEEDED"]


def test_out_of_stock_cancels_and_charges_nothing(cloud: LocalCloud) -> None:
    before = stock(cloud)

    order_id = place(cloud, "tok_ok", [{"sku": "DK-006", "quantity": 50}])
    final = wait_terminal(cloud, order_id)[order_id]

    assert (final["status"], final["reason"]) == ("CANCELLED", "OUT_OF_STOCK")
    assert types(final) == ["OrderCreated", "OrderCancelled"]
    assert order_id not in ledger(cloud)
    assert stock(cloud)["DK-006"] == before["DK-006"]


def test_declined_payment_cancels_and_puts_the_stock_back(cloud: LocalCloud) -> None:
    before = stock(cloud)["HS-004"]

    order_id = place(cloud, "tok_declined", [{"sku": "HS-004", "quantity": 3}])
    final = wait_terminal(cloud, order_id)[order_id]

    assert (final["status"], final["reason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert types(final) == [
        "OrderCreated",
        "InventoryReserved",
        "PaymentDeclined",
        "InventoryReleased",
        "OrderCancelled",
    ]
    assert stock(cloud)["HS-004"] == before
    assert ledger(cloud)[order_id].get("status") != "CHARGED"


def test_a_flaky_gateway_is_retried_and_charges_once(cloud: LocalCloud) -> None:
    order_id = place(cloud, "tok_flaky")

    final = wait_terminal(cloud, order_id)[order_id]

    assert final["status"] == "SHIPPED"
    entry = ledger(cloud)[order_id]
    assert (entry["status"], int(entry["attempts"])) == ("CHARGED", 3)  # two transient failures, then paid
    assert types(final).count("PaymentReceived") == 1


def test_a_failing_compensation_leaves_the_order_needing_attention(cloud: LocalCloud) -> None:
    release = cloud.function_name("FulfilmentReleaseInventory")
    cloud.runtime.inject_fault(release, "ServiceUnavailable", "inventory store unreachable")
    try:
        order_id = place(cloud, "tok_declined", [{"sku": "SP-008", "quantity": 1}], currency="USD")
        final = wait_terminal(cloud, order_id)[order_id]
    finally:
        cloud.runtime.clear_faults()

    assert final["status"] == "NEEDS_ATTENTION"
    assert types(final)[-1] == "SystemAlert"
    assert [e["status"] for e in executions(cloud, order_id)] == ["FAILED"]


# The confirm step's first attempt and each of its retries strike.
CONFIRM_ATTEMPTS = 1 + OrderflowSettings.local().saga.retry_max_attempts


def _order_with_every_confirm_attempt_failing(cloud: LocalCloud, kind: str) -> tuple[str, str]:
    """An order whose confirm attempts all fail with this fault kind (`timeout`: the step ran
    and its answer was lost; `error`: it never ran); its id and how its saga ended."""
    no_saga_running(cloud)
    cloud.runtime.faults.set([Fault(kind=kind, target="FulfilmentOrderSteps", times=CONFIRM_ATTEMPTS)])
    try:
        order_id = place(cloud, "tok_ok", [{"sku": "HS-004", "quantity": 1}])
        return order_id, saga_outcome(cloud, order_id, timeout=90)
    finally:
        cloud.runtime.clear_faults()


def test_a_confirmation_stored_but_reported_failed_stands(cloud: LocalCloud) -> None:
    """Every confirm attempt writes (the first) or finds the order confirmed (the retries),
    and every answer is lost: the settle step finds the order CONFIRMED, nothing is undone."""
    before = stock(cloud)["HS-004"]

    order_id, outcome = _order_with_every_confirm_attempt_failing(cloud, "timeout")

    final = wait_terminal(cloud, order_id)[order_id]
    assert outcome == "SUCCEEDED"
    assert final["status"] == "SHIPPED"
    assert "OrderCancelled" not in types(final)
    assert ledger(cloud)[order_id]["status"] == "CHARGED"
    after = stock(cloud)["HS-004"]
    assert (after["sold"] - before["sold"], after["reserved"] - before["reserved"]) == (1, 0)


def test_a_confirmation_that_never_ran_is_compensated(cloud: LocalCloud) -> None:
    before = stock(cloud)["HS-004"]

    order_id, outcome = _order_with_every_confirm_attempt_failing(cloud, "error")

    final = view_showing(cloud, order_id, "InventoryReleased")
    assert outcome == "SUCCEEDED"
    assert (final["status"], final["reason"]) == ("CANCELLED", "FULFILMENT_FAILED")
    # cancelled first, so that no late confirmation can follow the compensations
    assert types(final)[-3:] == ["OrderCancelled", "PaymentRefunded", "InventoryReleased"]
    assert ledger(cloud)[order_id]["status"] == "REFUNDED"
    assert stock(cloud)["HS-004"] == before


def test_the_same_order_created_twice_runs_one_saga(cloud: LocalCloud) -> None:
    order_id = place(cloud, "tok_ok", [{"sku": "CB-005", "quantity": 4}])
    wait_terminal(cloud, order_id)
    outbox = cloud.client("dynamodb").scan(TableName=cloud.table_name("Outbox"))["Items"]
    (created,) = [
        json.loads(i["envelope"]["S"])
        for i in outbox
        if i["subject"]["S"] == order_id and i["event_type"]["S"] == "OrderCreated"
    ]
    sold_before = stock(cloud)["CB-005"]["sold"]

    cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.deployment.outputs["EventBus"],
                "Source": "orderflow.orders",
                "DetailType": "OrderCreated",
                "Detail": json.dumps(created),
            }
        ]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        d.get("detail_type") == "OrderCreated" and kind == "rule_delivery"
        for kind, d in list(cloud.activity.reports)[-50:]
    ):
        time.sleep(0.2)
    cloud.wait_until_idle()

    assert len(executions(cloud, order_id)) == 1
    assert stock(cloud)["CB-005"]["sold"] == sold_before  # reserved and sold once
    assert ledger(cloud)[order_id]["status"] == "CHARGED"
    assert types(view(cloud, order_id)).count("PaymentReceived") == 1


def _wait_for_state(cloud: LocalCloud, order_id: str, state: str, timeout: float) -> None:
    sfn, deadline = cloud.client("stepfunctions"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in executions(cloud, order_id):
            history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
            if any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in history):
                return
        time.sleep(0.5)
    raise AssertionError(f"the saga of {order_id} never entered {state}")


def _provider_down(cloud: LocalCloud) -> None:
    """The payment provider fails every charge from now (0.1 s) until the faults clear."""
    cloud.runtime.faults.set([Fault(kind="outage", target="gateway", seconds=999.9, every=1000)])


def test_a_30_second_provider_outage_is_ridden_out_and_every_order_ships(cloud: LocalCloud) -> None:
    """A stream of orders, a 30 s outage in its middle: the orders placed during it wait for
    the provider (its circuit opens and closes) and all ship, each paid once; the deadline
    (60 s locally) is not reached."""
    no_saga_running(cloud)
    with _Watch(cloud) as watch:
        orders = [place(cloud, "tok_ok") for _ in range(2)]
        wait_terminal(cloud, *orders)  # paid before the outage
        _provider_down(cloud)
        outage_started = time.monotonic()
        try:
            for _ in range(5):
                orders.append(place(cloud, "tok_ok"))
                time.sleep(4)
            wait_for(lambda: watch.circuit_openings > 0, timeout=30)
            time.sleep(max(0.0, 31 - (time.monotonic() - outage_started)))
        finally:
            cloud.runtime.clear_faults()
        orders += [place(cloud, "tok_ok") for _ in range(2)]  # and after it

        views = wait_terminal(cloud, *orders, timeout=120)
    for order_id in orders:
        assert (views[order_id]["status"], views[order_id]["reason"]) == ("SHIPPED", None), order_id
        assert watch.paid[order_id] == 1, order_id  # one successful charge answered per order
    assert watch.refused_while_open > 0  # the orders during the outage met the open circuit


def test_an_outage_longer_than_the_payment_deadline_cancels_the_order(cloud: LocalCloud) -> None:
    no_saga_running(cloud)
    before = stock(cloud)["MS-002"]
    _provider_down(cloud)
    try:
        order_id = place(cloud, "tok_ok")
        # Down until the saga gives up on the payment (its deadline passed); the provider is
        # back for the compensation, which asks it whether anything was charged.
        _wait_for_state(cloud, order_id, "UnavailableReason", timeout=120)
    finally:
        cloud.runtime.clear_faults()
    wait_terminal(cloud, order_id, timeout=60)

    final = view_showing(cloud, order_id, "InventoryReleased")
    assert (final["status"], final["reason"]) == ("CANCELLED", "PAYMENT_UNAVAILABLE")
    assert ledger(cloud).get(order_id, {}).get("status") != "CHARGED"  # never charged, or refunded
    assert stock(cloud)["MS-002"]["reserved"] == before["reserved"]
    (execution,) = executions(cloud, order_id)
    sfn = cloud.client("stepfunctions")
    deadline = datetime.fromisoformat(
        json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["payment_deadline"]
    )
    entered = {
        e["stateEnteredEventDetails"]["name"]: e["timestamp"]
        for e in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
        if "stateEnteredEventDetails" in e
    }
    # Tried again and again, and given up only once the deadline had passed.
    assert entered["UnavailableReason"] >= deadline
    assert deadline - timedelta(seconds=60) < entered["WaitForPaymentProvider"] < deadline


def test_declined_cards_never_open_the_circuit(cloud: LocalCloud) -> None:
    """One customer's card outcomes are answers, not provider failures."""
    no_saga_running(cloud)
    with _Watch(cloud) as watch:
        declined = [place(cloud, "tok_declined") for _ in range(4)]
        wait_terminal(cloud, *declined)
        paid = place(cloud, "tok_ok")
        final = wait_terminal(cloud, paid)[paid]

    assert final["status"] == "SHIPPED"
    assert watch.declined == 4
    assert watch.circuit_openings == 0


class _Watch:
    """What the payments function logs while the block runs: circuit openings, and each
    order's payment outcomes (a listener sees every line; the capped log buffer may not)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._payments = cloud.function_name("FulfilmentPaymentsConsumer")
        self.circuit_openings = 0
        self.refused_while_open = 0
        self.declined = 0
        self.paid: Counter[str] = Counter()

    def __enter__(self) -> _Watch:
        self._cloud.log_listeners.append(self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        self._cloud.log_listeners.remove(self._seen)

    def _seen(self, function: str, entry: dict[str, Any] | str) -> None:
        if function != self._payments or not isinstance(entry, dict):
            return
        if entry.get("message") == "payment gateway circuit changed" and "to_state=<CircuitState.OPEN" in str(
            entry.get("transition")
        ):
            self.circuit_openings += 1
        if entry.get("message") == "payment processed":
            outcome = entry.get("outcome")
            if outcome == "PaymentsPaid" and entry.get("saga_answered"):
                self.paid[str(entry.get("order_id"))] += 1
            self.refused_while_open += outcome == "PaymentsRejectedCircuitOpen"
            self.declined += outcome == "PaymentsDeclined"


def test_invariants_hold_after_a_batch_of_mixed_orders(cloud: LocalCloud) -> None:
    before = stock(cloud)
    tokens = ["tok_ok", "tok_declined", "tok_flaky", "tok_ok", "tok_declined", "tok_ok"]
    orders = [
        place(cloud, token, [{"sku": "MS-002", "quantity": 2}, {"sku": "KB-001", "quantity": 1}]) for token in tokens
    ]
    orders.append(place(cloud, "tok_ok", [{"sku": "DK-006", "quantity": 99}]))  # out of stock

    views = wait_terminal(cloud, *orders, timeout=90)

    assert conserved(before, stock(cloud)) == {}
    # Nothing these orders reserved is left reserved (an order needing attention elsewhere may
    # legitimately still hold SP-008).
    assert [stock(cloud)[sku]["reserved"] for sku in ("MS-002", "KB-001", "DK-006")] == [0, 0, 0]
    ours = {order_id: entry for order_id, entry in ledger(cloud).items() if order_id in views}
    confirmed = sum(Decimal(v["total"]) for v in views.values() if v["status"] == "SHIPPED")
    assert charged(ours) == confirmed
    assert sorted(v["status"] for v in views.values()).count("SHIPPED") == 4


def test_stock_below_the_threshold_raises_low_stock_on_the_alert_topic(cloud: LocalCloud) -> None:
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    tap = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = cloud.deployment.outputs["AlertTopic"]
    # As on AWS, the queue's policy must let SNS deliver from the topic.
    allow_topic = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": tap_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
    }
    sqs.set_queue_attributes(
        QueueUrl=tap, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [allow_topic]})}
    )
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=tap_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    available = stock(cloud)["DK-006"]["available"]
    assert available < 6  # one more sold leaves fewer than 5

    order_id = place(cloud, "tok_ok", [{"sku": "DK-006", "quantity": 1}])
    wait_terminal(cloud, order_id)

    bodies = [parse_event(m["Body"]) for m in sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]]
    alerts = [event for event in bodies if event.type == "LowStock" and event.subject == order_id]
    assert alerts
    assert (alerts[0].data.sku, alerts[0].data.available, alerts[0].data.threshold) == ("DK-006", available - 1, 5)


def test_a_payment_command_no_longer_awaited_charges_nothing(cloud: LocalCloud) -> None:
    """A redelivered command whose task was answered, or one the saga gave up on: the
    heartbeat is refused, and the customer is not charged."""
    order_id = f"not-awaited-{uuid.uuid4()}"
    command = ProcessPayment.new(
        source=EventSource.SAGA,
        subject=order_id,
        correlation_id="corr-not-awaited",
        sequence=1,
        data=ProcessPaymentData(
            amount=Decimal("10.00"), currency=Currency.EUR, payment_token="tok_ok", task_token="a-token-nobody-awaits"
        ),
    )
    message_id = _send(cloud, "FulfilmentPaymentsQueue", order_id, command.to_json())

    wait_for(lambda: any(message_id in d["message_ids"] and not d["failed"] for d in _reports(cloud)), timeout=30)

    assert order_id not in ledger(cloud)
    assert cloud.wait_for_log("payment command no longer awaited", contains=order_id)


def _reports(cloud: LocalCloud) -> list[dict[str, Any]]:
    return [details for kind, details in list(cloud.activity.reports) if kind == "sqs_batch"]


def test_an_order_at_the_line_limit_ships_and_one_more_line_is_refused(cloud: LocalCloud) -> None:
    """48 lines: the confirmation writes 3 + 2 x 48 = 99 items in one transaction, the most
    DynamoDB takes (orderflow.limits). 49 lines never get past the API."""
    from orderflow.adapters.catalogue import DynamoDbCatalogue
    from orderflow.domain.orders import Product
    from orderflow.events.types import Currency
    from orderflow.limits import MAX_LINES

    catalogue = DynamoDbCatalogue(cloud.table_name("Catalogue"), client=cloud.client("dynamodb"))
    skus = [f"LIMIT-{index:02d}" for index in range(MAX_LINES + 1)]
    for sku in skus:
        catalogue.put(Product(sku=sku, name=f"Part {sku}", price=Decimal("1.00"), currency=Currency.EUR, available=100))
    lines = [{"sku": sku, "quantity": 2} for sku in skus]

    order_id = place(cloud, "tok_ok", lines[:MAX_LINES])
    refused = cloud.api.request(
        "POST",
        "/orders",
        {"customer_id": "limits", "items": lines, "currency": "EUR", "payment_token": "tok_ok"},
    )

    final = wait_terminal(cloud, order_id, timeout=120)[order_id]
    assert final["status"] == "SHIPPED"
    assert Decimal(final["total"]) == Decimal("96.00")
    sold = stock(cloud)
    assert all((sold[sku]["sold"], sold[sku]["reserved"]) == (2, 0) for sku in skus[:MAX_LINES])
    assert refused.status == 422
    assert refused.body["errors"][0]["field"] == "items"
