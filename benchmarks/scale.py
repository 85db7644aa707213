"""How far the design goes on AWS: for each limit an order meets on its way (a default quota, a
documented service limit, or a setting of our own template), how much of it one order uses,
and so the most orders a second it allows. The lowest is the first thing that gives.

What one order uses comes from the shipped path measured on the local cloud (`benchmarks.calls`):
its API calls, state transitions, events, DynamoDB request units per table and each function's
run time. Run times are the local cloud's on moto, each message in a batch of its own: the
concurrency rows are therefore pessimistic (Lambda batches up to ten messages at a rate like
these). The quotas are the defaults of US East (N. Virginia) for an account past its first weeks
(new accounts start lower: Lambda concurrency and Step Functions' state transitions among
them), each with the page that states it.

Two catalogues: many SKUs (an order's stock item is one of many, spread over DynamoDB's
partitions) and a flash sale on one SKU (every order writes the same stock item, and one
partition takes 1,000 write units a second).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.calls import OrderCalls
from infra.references import invoked_function

# What one DynamoDB partition serves, and what a new on-demand table serves at once (it adapts
# beyond that over time, or at once when its warm throughput is raised ahead of a sale).
PARTITION_WRITE_UNITS = 1_000
PARTITION_READ_UNITS = 3_000
ON_DEMAND_WARM_WRITE_UNITS = 4_000
ON_DEMAND_WARM_READ_UNITS = 12_000
CATALOGUE = "many SKUs"
FLASH_SALE = "flash sale on one SKU"
TARGET_FLASH_SALE = 1_000  # orders a second a flash sale should reach


@dataclass(frozen=True)
class Limit:
    service: str
    name: str
    allows: float  # a second: requests, units, messages, or (for concurrency) executions at once
    source: str


API_ACCOUNT = Limit(
    "API Gateway",
    "requests per account and Region",
    10_000,
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
)
LAMBDA_CONCURRENCY = Limit(
    "Lambda",
    "concurrent executions per account and Region (Little's law: orders/s x run seconds per order)",
    1_000,
    "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
)
START_EXECUTION = Limit(
    "Step Functions",
    "StartExecution refill rate (bucket 1,300)",
    300,
    "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html",
)
STATE_TRANSITIONS = Limit(
    "Step Functions",
    "Standard state transitions refill rate (bucket 5,000)",
    5_000,
    "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html",
)
PUT_EVENTS = Limit(
    "EventBridge",
    "PutEvents requests per account and Region",
    10_000,
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html",
)
SNS_FIFO = Limit(
    "SNS",
    "FIFO messages per account, high throughput (FifoThroughputScope MessageGroup)",
    30_000,
    "https://docs.aws.amazon.com/general/latest/gr/sns.html",
)
SQS_FIFO = Limit(
    "SQS",
    "FIFO requests per queue and API action, high throughput (the busiest queue's messages)",
    70_000,
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
)
TABLE_WRITES = Limit(
    "DynamoDB",
    "write units a new on-demand table serves at once (warm throughput)",
    ON_DEMAND_WARM_WRITE_UNITS,
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
)
HOT_ITEM_WRITES = Limit(
    "DynamoDB",
    "write units of one partition (the sale's stock item: 2 per transactional write of it)",
    PARTITION_WRITE_UNITS,
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
)
TEMPLATE = "the synthesized template"


@dataclass(frozen=True)
class Load:
    """One limit and what one order uses of it."""

    limit: Limit
    per_order: float
    what: str  # what an order uses of it, in words

    @property
    def orders_per_second(self) -> float:
        return math.inf if self.per_order <= 0 else self.limit.allows / self.per_order


@dataclass(frozen=True)
class Settings:
    """What our own template limits: the API stage's and the usage plan's rates, and each SQS
    mapping's maximum concurrency by the function it invokes (logical id)."""

    stage_rate: float
    key_rate: float
    consumer_concurrency: Mapping[str, int]


def settings(template: Mapping[str, Any]) -> Settings:
    resources: dict[str, Any] = template["Resources"]
    stage_rates = [
        float(method["ThrottlingRateLimit"])
        for resource in resources.values()
        if resource["Type"] == "AWS::ApiGateway::Stage"
        for method in resource["Properties"].get("MethodSettings", [])
        if "ThrottlingRateLimit" in method
    ]
    key_rates = [
        float(resource["Properties"]["Throttle"]["RateLimit"])
        for resource in resources.values()
        if resource["Type"] == "AWS::ApiGateway::UsagePlan" and "Throttle" in resource["Properties"]
    ]
    consumers: dict[str, int] = {}
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and "ScalingConfig" in properties:
            function = invoked_function(resources, properties["FunctionName"])
            consumers[str(function)] = int(properties["ScalingConfig"]["MaximumConcurrency"])
    return Settings(
        stage_rate=min(stage_rates, default=math.inf),
        key_rate=min(key_rates, default=math.inf),
        consumer_concurrency=consumers,
    )


def _seconds(order: OrderCalls, function: str) -> float:
    return sum(seconds for name, seconds in order.run_seconds.items() if name.startswith(function))


def _units(order: OrderCalls, unit: str, table_part: str) -> float:
    return sum(units for key, units in order.capacity.items() if key.startswith(f"{unit} ") and table_part in key)


def loads(order: OrderCalls, own: Settings, catalogue: str, stock_table: str) -> list[Load]:
    """Every limit an order of the measured path meets, and what it uses of each."""
    found = [
        Load(
            Limit("API Gateway", "the stage's throttling rate", own.stage_rate, TEMPLATE),
            1,
            "POST /orders (a client's reads of the order come on top)",
        ),
        Load(
            Limit("API Gateway", "the usage plan's rate, per API key", own.key_rate, TEMPLATE),
            1,
            "POST /orders, all from one client",
        ),
        Load(API_ACCOUNT, 1, "POST /orders"),
        Load(LAMBDA_CONCURRENCY, sum(order.run_seconds.values()), "run seconds of every function"),
        Load(START_EXECUTION, order.calls.get("stepfunctions.StartExecution", 0), "one saga execution"),
        Load(STATE_TRANSITIONS, order.transitions, "the saga's states entered"),
        Load(PUT_EVENTS, order.calls.get("events.PutEvents", 0), "the relay's PutEvents requests"),
        Load(SNS_FIFO, order.bus_events, "events published to the order-events topic"),
    ]
    busiest = max(
        (
            (count, function)
            for function, count in order.invocations.items()
            if any(function.startswith(consumer) for consumer in own.consumer_concurrency)
        ),
        default=(0, ""),
    )
    found.append(Load(SQS_FIFO, busiest[0], f"messages to the queue of {busiest[1] or 'no consumer'}"))
    for function, concurrency in sorted(own.consumer_concurrency.items()):
        limit = Limit("Lambda", f"{function}: its SQS mapping's maximum concurrency", concurrency, TEMPLATE)
        found.append(Load(limit, _seconds(order, function), "its run seconds"))
    for key, units in sorted(order.capacity.items()):
        unit, table = key.split(" ", 1)
        if unit == "WRU":
            found.append(Load(TABLE_WRITES, units, f"write units on {table}"))
    if catalogue == FLASH_SALE:
        found.append(Load(HOT_ITEM_WRITES, _units(order, "WRU", stock_table), "write units on the SKU's stock item"))
    return found


def first_limit(found: list[Load]) -> Load:
    """The limit that gives first: the fewest orders a second."""
    return min(found, key=lambda load: load.orders_per_second)


def table(order: OrderCalls, own: Settings, stock_table: str) -> list[str]:
    """Every limit of a catalogue of many SKUs, fewest orders a second first, then what a flash
    sale on one SKU adds."""
    catalogue = loads(order, own, CATALOGUE, stock_table)
    sale_only = [load for load in loads(order, own, FLASH_SALE, stock_table) if load not in catalogue]
    lines = [
        "| catalogue | service | limit | allows a second | an order uses | orders a second | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, found in ((CATALOGUE, catalogue), (f"{FLASH_SALE}, besides", sale_only)):
        for load in sorted(found, key=lambda load: load.orders_per_second):
            source = load.limit.source if load.limit.source == TEMPLATE else f"<{load.limit.source}>"
            lines.append(
                f"| {name} | {load.limit.service} | {load.limit.name} | {load.limit.allows:,g} | "
                f"{load.per_order:.3g} ({load.what}) | {load.orders_per_second:,.0f} | {source} |"
            )
    return lines


def section(order: OrderCalls, template: Mapping[str, Any], stock_table: str) -> list[str]:
    """The scale model's part of `benchmarks/RESULTS.md`, from a shipped order's measurement."""
    own = settings(template)
    lines = [
        "How far it goes on AWS (`benchmarks/scale.py`): each limit a shipped order meets, what one",
        "order uses of it (measured on the shipped path), and the orders a second it allows; US East (N. Virginia)",
        "defaults of an established account; run times as measured here, on moto (a consumer runs a",
        "batch's messages one after another, so its run seconds per order do not shrink with batching):",
        "",
        *table(order, own, stock_table),
        "",
    ]
    for catalogue in (CATALOGUE, FLASH_SALE):
        first = first_limit(loads(order, own, catalogue, stock_table))
        lines.append(
            f"- {catalogue}: at most {first.orders_per_second:,.0f} orders a second, first limited by"
            f" {first.limit.service}: {first.limit.name}."
        )
    hot = next(load for load in loads(order, own, FLASH_SALE, stock_table) if load.limit is HOT_ITEM_WRITES)
    lines.append(
        f"- the sale's stock item alone allows {hot.orders_per_second:,.0f} orders a second"
        f" ({'below' if hot.orders_per_second < TARGET_FLASH_SALE else 'at least'} the"
        f" {TARGET_FLASH_SALE:,} a flash sale should reach)."
    )
    return lines


def main() -> int:
    """`python -m benchmarks.scale`: one shipped order through a local cloud, then the model."""
    from benchmarks import calls
    from localcloud.cloud import LocalCloudConfig, running

    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        cloud.seed()
        calls.measure(cloud, "shipped")  # warms the functions the figures are for
        order = calls.measure(cloud, "shipped")
        print("\n".join(section(order, cloud.deployment.template, cloud.table_name("Catalogue"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
