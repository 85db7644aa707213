"""The chaos soak, small: orders through a local cloud of its own with every kind of fault on,
then faults off, DLQs redriven and every order reconciled (`make soak` runs 1,000)."""

from __future__ import annotations

from moto.core.utils import utcnow

from localcloud.cloud import LocalCloud
from localcloud.soak import checker
from localcloud.soak.report import Report
from orderflow.contracts import Key
from tests.soak.conftest import ORDERS


def test_every_invariant_holds_after_faults_and_redrive(report: Report) -> None:
    assert report.violations == []
    assert report.orders == ORDERS
    assert sum(report.statuses.values()) == ORDERS
    assert report.faults["error"] > 0
    assert report.faults["reorder"] > 0
    assert report.faults["dynamodb_conflict"] > 0  # contention met, and no order cancelled for it
    assert report.faulted_share > 0.05
    assert report.retries["queue messages"] + report.retries["saga task attempts"] > 0


def test_the_limited_product_sold_out_and_good_cards_shipped(report: Report) -> None:
    assert report.statuses["CANCELLED (OUT_OF_STOCK)"] > 0
    shipped, total = report.good_shipped
    assert total > 0
    assert shipped == total


def test_the_summary_table_names_every_figure(report: Report) -> None:
    table = report.table()

    for row in (
        "| seed ",
        "| orders ",
        "| tok_ok orders with stock shipped ",
        "| invocations faulted (latency not counted) ",
        "| faults injected: error ",
        "| redriven ",
        "| time: wall ",
        "| violations ",
    ):
        assert row in table


def test_the_checker_reads_a_broken_read_model_and_a_lost_event_from_storage(
    cloud: LocalCloud, evidence: checker.Evidence
) -> None:
    """Through the adapters: break the stored state behind one order and gathering sees it."""
    victim = sorted(evidence.orders)[0]
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

    placed = [order.placed for order in evidence.orders.values()]
    violations = checker.check(checker.gather(cloud, placed, evidence.stock_before)).violations

    assert any(v.startswith(f"{victim}: history applied") for v in violations)
    assert any(v.startswith(f"{victim}: the read model shows PENDING") for v in violations)
