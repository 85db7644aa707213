"""The scale model's arithmetic (`benchmarks/scale.py`), on small cases checked by hand."""

from __future__ import annotations

import math
from collections import Counter

from benchmarks import scale
from benchmarks.calls import OrderCalls

TEMPLATE = {
    "Resources": {
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"MethodSettings": [{"HttpMethod": "*", "ThrottlingRateLimit": 100}]},
        },
        "Plan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {"Throttle": {"BurstLimit": 100, "RateLimit": 50}},
        },
        "HistoryFunction": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "HistoryLive": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {"FunctionName": {"Ref": "HistoryFunction"}, "Name": "live"},
        },
        "HistoryMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"FunctionName": {"Ref": "HistoryLive"}, "ScalingConfig": {"MaximumConcurrency": 5}},
        },
        "RelayMapping": {  # a stream mapping: no maximum concurrency of its own
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"FunctionName": {"Ref": "RelayFunction"}},
        },
    }
}


def _order() -> OrderCalls:
    return OrderCalls(
        path="shipped",
        calls=Counter({"stepfunctions.StartExecution": 1, "events.PutEvents": 5}),
        by_function=Counter(),
        transitions=4,
        poller_requests=0,
        invocations=Counter({"ApiFunction": 1, "HistoryFunction": 4}),
        capacity={"WRU orders": 6.0, "WRU catalogue": 4.0, "RRU orders": 1.0},
        gb_seconds=0.35,
        run_seconds={"ApiFunction": 0.3, "HistoryFunction": 0.4},
        sqs_task_messages=1,
        log_bytes=0,
        bus_events=7,
        saga_seconds=1.0,
    )


def _by_name(loads: list[scale.Load]) -> dict[str, float]:
    return {f"{load.limit.service}: {load.limit.name} / {load.what}": load.orders_per_second for load in loads}


def test_a_limit_allows_its_rate_over_what_one_order_uses() -> None:
    assert scale.Load(scale.START_EXECUTION, 1, "").orders_per_second == 300
    assert scale.Load(scale.STATE_TRANSITIONS, 4, "").orders_per_second == 1250
    assert scale.Load(scale.PUT_EVENTS, 0, "").orders_per_second == math.inf


def test_the_templates_own_limits_are_read_with_each_mapping_by_the_function_behind_its_alias() -> None:
    own = scale.settings(TEMPLATE)

    assert (own.stage_rate, own.key_rate) == (100, 50)
    assert own.consumer_concurrency == {"HistoryFunction": 5}


def test_every_limit_an_order_meets_in_a_catalogue_of_many_skus() -> None:
    found = _by_name(scale.loads(_order(), scale.settings(TEMPLATE), scale.CATALOGUE, "catalogue"))

    # Lambda: 1,000 at once / (0.3 + 0.4) s an order; the consumer: 5 at once / 0.4 s
    assert math.isclose(
        found["Lambda: " + scale.LAMBDA_CONCURRENCY.name + " / run seconds of every function"], 1000 / 0.7
    )
    assert found["Lambda: HistoryFunction: its SQS mapping's maximum concurrency / its run seconds"] == 12.5
    assert found["DynamoDB: " + scale.TABLE_WRITES.name + " / write units on orders"] == 4000 / 6
    assert found["SNS: " + scale.SNS_FIFO.name + " / events published to the order-events topic"] == 30_000 / 7
    assert found["SQS: " + scale.SQS_FIFO.name + " / messages to the queue of HistoryFunction"] == 70_000 / 4
    assert not any(scale.HOT_ITEM_WRITES.name in name for name in found)


def test_a_flash_sale_adds_its_stock_items_partition() -> None:
    loads = scale.loads(_order(), scale.settings(TEMPLATE), scale.FLASH_SALE, "catalogue")

    (hot,) = [load for load in loads if load.limit is scale.HOT_ITEM_WRITES]
    assert hot.orders_per_second == 1000 / 4  # reserve and confirm: two transactional writes of 2 units


def test_the_first_limit_is_the_one_allowing_fewest_orders() -> None:
    loads = scale.loads(_order(), scale.settings(TEMPLATE), scale.FLASH_SALE, "catalogue")

    first = scale.first_limit(loads)

    assert first.orders_per_second == 12.5  # the history consumer's 5 at once, 0.4 s an order
    table = "\n".join(scale.table(_order(), scale.settings(TEMPLATE), "catalogue"))
    assert (
        "| many SKUs | Lambda | HistoryFunction: its SQS mapping's maximum concurrency | 5 "
        "| 0.4 (its run seconds) | 12 |" in table
    )
    assert table.count("| flash sale on one SKU, besides |") == 1  # the stock item's partition


def test_the_section_says_whether_the_stock_item_holds_a_flash_sale() -> None:
    lines = scale.section(_order(), TEMPLATE, "catalogue")

    assert "- many SKUs: at most 12 orders a second, first limited by Lambda: HistoryFunction" in "\n".join(lines)
    assert lines[-1].startswith("- the sale's stock item alone allows 250 orders a second (below the 1,000")
