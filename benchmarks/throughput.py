"""Local throughput: orders placed together, as fast as a few clients can, end to end through
the local cloud (API, outbox, relay, bus, saga, payments, shipping, projection, notification);
and what an order uses when many are in flight (batches fill up: fewer requests per order than
one order at a time).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks import calls, cost
from benchmarks.cost import Usage
from localcloud.cloud import LocalCloud
from localcloud.soak.load import PLAIN_SKU, Pace, Planned, place_order


@dataclass(frozen=True)
class Throughput:
    orders: int
    seconds: float
    usage: Usage  # per order, averaged over the run

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds


def measure(cloud: LocalCloud, shipped: calls.OrderCalls, orders: int = 60, clients: int = 4) -> Throughput:
    """`shipped` (the shipped path, one order at a time) supplies what does not change with
    load: the saga's transitions, run time and payment command, and the events per order."""
    assert cloud.wait_until_idle(timeout=60, settle=1)
    before = calls.Counted.now(cloud)
    started = time.perf_counter()
    pace = Pace(0)
    with ThreadPoolExecutor(clients) as pool:
        order_ids = list(
            pool.map(lambda _: place_order(cloud, Planned(kind="tok_ok", lines=((PLAIN_SKU, 2),)), pace), range(orders))
        )
    deadline = time.monotonic() + 600
    while any(calls.status(cloud, order_id) not in calls.TERMINAL for order_id in order_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("the orders did not finish in 10 minutes")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    cloud.wait_until_idle(timeout=60, settle=2)
    run = calls.order_calls(
        cloud,
        "at load",
        calls.Counted.now(cloud).since(before),
        transitions=shipped.transitions * orders,
        sqs_task_messages=shipped.sqs_task_messages * orders,
        bus_events=shipped.bus_events * orders,
        saga_seconds=shipped.saga_seconds * orders,
    )
    return Throughput(orders=orders, seconds=seconds, usage=cost.per_order(cost.usage(run), orders))
