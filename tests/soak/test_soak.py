"""The chaos soak, small: orders through a local cloud of its own with every kind of fault on,
then faults off, DLQs redriven and the invariants checked (`make soak` runs 1,000)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.core.utils import utcnow

from localcloud import soak
from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from orderflow.contracts import Key

ORDERS = 24


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with running(LocalCloudConfig(moto_port=0, api_port=0)) as local:
        yield local


@pytest.fixture(scope="module")
def report(cloud: LocalCloud) -> soak.Report:
    return soak._run(cloud, soak.Soak(orders=ORDERS, clients=3, settle_seconds=5), say=lambda _: None)


def test_every_invariant_holds_after_faults_and_redrive(report: soak.Report) -> None:
    assert report.violations == []
    assert report.orders == ORDERS
    assert sum(report.statuses.values()) == ORDERS
    assert report.faults["error"] > 0
    assert report.faults["reorder"] > 0
    assert report.faults["dynamodb_conflict"] > 0  # contention met, and no order cancelled for it
    assert report.faulted_share > 0.05
    assert report.retries["queue messages"] + report.retries["saga task attempts"] > 0


def test_the_summary_table_names_every_figure(report: soak.Report) -> None:
    table = report.table()

    for row in ("| orders ", "| invocations faulted ", "| faults injected: error ", "| redriven ", "| violations "):
        assert row in table


def test_the_checker_finds_a_broken_read_model_and_a_lost_event(cloud: LocalCloud, report: soak.Report) -> None:
    """The checker is not vacuous: break the state behind one order and it says so."""
    order_ids = sorted(item[Key.ORDER_ID] for item in soak._scan(cloud, "Orders"))
    victim = order_ids[0]
    dynamodb = cloud.client("dynamodb")
    views = cloud.table_name("OrderViews")
    entries = dynamodb.query(
        TableName=views,
        KeyConditionExpression="#pk = :id",
        ExpressionAttributeNames={"#pk": Key.ORDER_ID},
        ExpressionAttributeValues={":id": {"S": victim}},
    )["Items"]
    timeline = next(item for item in entries if item[Key.VIEW_SK]["S"] != "SUMMARY")
    dynamodb.delete_item(TableName=views, Key={Key.ORDER_ID: {"S": victim}, Key.VIEW_SK: timeline[Key.VIEW_SK]})
    dynamodb.update_item(
        TableName=views,
        Key={Key.ORDER_ID: {"S": victim}, Key.VIEW_SK: {"S": "SUMMARY"}},
        UpdateExpression="SET #status = :pending, updated_at = :now",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pending": {"S": "PENDING"}, ":now": {"S": utcnow().isoformat()}},
    )

    violations = soak.check(cloud, order_ids, soak._stock(cloud))

    assert any(v.startswith(f"{victim}: history applied") for v in violations)
    assert any(v.startswith(f"{victim}: the read model shows PENDING") for v in violations)


def test_the_checker_finds_an_order_cancelled_for_a_reason_it_did_not_give(
    cloud: LocalCloud, report: soak.Report
) -> None:
    """A good card on stock that is there must not end OUT_OF_STOCK (what a transaction conflict
    mistaken for a failed stock condition would do)."""
    orders = soak._orders(cloud, [item[Key.ORDER_ID] for item in soak._scan(cloud, "Orders")])
    victim = next(
        order_id
        for order_id, order in sorted(orders.items())
        if order["customer_id"] == "soak-tok_ok" and order["status"] == "CONFIRMED"
    )
    cloud.client("dynamodb").update_item(
        TableName=cloud.table_name("Orders"),
        Key={Key.ORDER_ID: {"S": victim}},
        UpdateExpression="SET #status = :cancelled, reason = :reason",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":cancelled": {"S": "CANCELLED"}, ":reason": {"S": "OUT_OF_STOCK"}},
    )

    violations = soak.check(cloud, sorted(orders), soak._stock(cloud))

    assert any(v.startswith(f"{victim}: placed as tok_ok, ended CANCELLED (OUT_OF_STOCK)") for v in violations)
