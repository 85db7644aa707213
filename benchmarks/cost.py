"""Cost per million orders, by service, from what one order was measured to use on each path
(`benchmarks.calls`) and AWS's published on-demand prices.

Prices are US East (N. Virginia) list prices from the pages cited (`PRICES_CHECKED` says which
were checked against the pages, and when); free tiers are left out (they matter below a few
hundred thousand orders a month, not per million). What is not priced is said in `NOT_PRICED`.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from benchmarks.calls import OrderCalls

PRICES_CHECKED = (
    "Step Functions, DynamoDB and SQS checked against their pages on 2026-11-28, the others as last"
    " published: check them before relying on a total;"
)
MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    service: str
    unit: str
    usd: float  # per unit
    source: str


API_REQUEST = Price("API Gateway", "REST API request", 3.50 / MILLION, "https://aws.amazon.com/api-gateway/pricing/")
LAMBDA_REQUEST = Price("Lambda", "request", 0.20 / MILLION, "https://aws.amazon.com/lambda/pricing/")
LAMBDA_GB_SECOND = Price("Lambda", "GB-second (x86_64)", 0.0000166667, "https://aws.amazon.com/lambda/pricing/")
WRITE_UNIT = Price(
    "DynamoDB", "write request unit (on-demand)", 0.625 / MILLION, "https://aws.amazon.com/dynamodb/pricing/on-demand/"
)
READ_UNIT = Price(
    "DynamoDB", "read request unit (on-demand)", 0.125 / MILLION, "https://aws.amazon.com/dynamodb/pricing/on-demand/"
)
SQS_FIFO_REQUEST = Price("SQS", "FIFO request (64 KB chunk)", 0.50 / MILLION, "https://aws.amazon.com/sqs/pricing/")
SNS_FIFO_PUBLISH = Price(
    "SNS", "FIFO topic publish request (64 KB chunk)", 0.30 / MILLION, "https://aws.amazon.com/sns/pricing/"
)
BUS_EVENT = Price(
    "EventBridge", "custom event put (64 KB chunk)", 1.00 / MILLION, "https://aws.amazon.com/eventbridge/pricing/"
)
TRANSITION = Price(
    "Step Functions", "Standard state transition", 25.00 / MILLION, "https://aws.amazon.com/step-functions/pricing/"
)
EXPRESS_REQUEST = Price(
    "Step Functions", "Express request", 1.00 / MILLION, "https://aws.amazon.com/step-functions/pricing/"
)
EXPRESS_GB_SECOND = Price(
    "Step Functions", "Express GB-second", 0.00001667, "https://aws.amazon.com/step-functions/pricing/"
)
LOG_GB = Price("CloudWatch", "log data ingested, GB", 0.50, "https://aws.amazon.com/cloudwatch/pricing/")
TRACE = Price("X-Ray", "trace recorded", 5.00 / MILLION, "https://aws.amazon.com/xray/pricing/")
PRICES = [
    API_REQUEST,
    LAMBDA_REQUEST,
    LAMBDA_GB_SECOND,
    WRITE_UNIT,
    READ_UNIT,
    SQS_FIFO_REQUEST,
    SNS_FIFO_PUBLISH,
    BUS_EVENT,
    TRANSITION,
    EXPRESS_REQUEST,
    EXPRESS_GB_SECOND,
    LOG_GB,
    TRACE,
]

# X-Ray's default sampling rule records the first request each second and 5% of the rest.
TRACED_SHARE = 0.05
# An Express execution is billed in 64 MB steps of the memory it uses; the saga's state is small.
EXPRESS_MEMORY_GB = 64 / 1024

NOT_PRICED = [
    "SNS FIFO payload (per GB published and delivered): under 2 KB an event",
    "KMS requests: SQS and SNS reuse data keys for 5 minutes, so a few per queue and topic, not per order",
    "the pollers' empty receives (a fixed amount per queue, whatever the order rate)",
    "custom metrics, alarms and the dashboard (a fixed monthly amount)",
    "DynamoDB storage, point-in-time recovery and stream reads (free for Lambda triggers)",
]


@dataclass(frozen=True)
class Line:
    price: Price
    quantity: float  # units per order

    @property
    def per_million(self) -> float:
        return self.quantity * self.price.usd * MILLION


@dataclass(frozen=True)
class Usage:
    """What one order uses, on average, of everything priced."""

    invocations: float
    gb_seconds: float
    write_units: float
    read_units: float
    sqs_requests: float
    sns_publishes: float
    bus_events: float
    transitions: float
    log_bytes: float
    saga_seconds: float


def usage(order: OrderCalls) -> Usage:
    def count(*operations: str) -> int:
        return sum(order.calls.get(operation, 0) for operation in operations)

    return Usage(
        invocations=sum(order.invocations.values()),
        gb_seconds=order.gb_seconds,
        write_units=order.request_units("WRU"),
        read_units=order.request_units("RRU"),
        # Lambda's pollers (receive + delete per batch), the saga's payment command, and what
        # our functions send (dead letters) or delete themselves.
        sqs_requests=order.poller_requests
        + order.sqs_task_messages
        + count("sqs.SendMessage", "sqs.SendMessageBatch", "sqs.DeleteMessage"),
        sns_publishes=count("sns.Publish", "sns.PublishBatch"),
        bus_events=order.bus_events,
        transitions=order.transitions,
        log_bytes=order.log_bytes,
        saga_seconds=order.saga_seconds,
    )


def per_order(use: Usage, orders: int) -> Usage:
    """What `orders` orders used together, for one of them on average."""
    return Usage(*(value / orders for value in astuple(use)))


def lines(use: Usage) -> list[Line]:
    """What one order costs, service by service, on the deployed design (Standard saga)."""
    return [
        Line(API_REQUEST, 1),
        Line(LAMBDA_REQUEST, use.invocations),
        Line(LAMBDA_GB_SECOND, use.gb_seconds),
        Line(WRITE_UNIT, use.write_units),
        Line(READ_UNIT, use.read_units),
        Line(SQS_FIFO_REQUEST, use.sqs_requests),
        Line(SNS_FIFO_PUBLISH, use.sns_publishes),
        Line(BUS_EVENT, use.bus_events),
        Line(TRANSITION, use.transitions),
        Line(LOG_GB, use.log_bytes / 1024**3),
        Line(TRACE, use.invocations * TRACED_SHARE),
    ]


def express_lines(use: Usage) -> list[Line]:
    """The saga as an Express workflow instead: a request and its run time replace the
    transitions (everything else as measured)."""
    return [
        Line(EXPRESS_REQUEST, 1),
        Line(EXPRESS_GB_SECOND, max(use.saga_seconds, 0.1) * EXPRESS_MEMORY_GB),
    ]


def total(priced: list[Line]) -> float:
    return sum(line.per_million for line in priced)
