"""Local throughput: orders placed together, as fast as a few clients can, end to end through
the local cloud (API, outbox, relay, bus, saga, payments, shipping, projection, notification);
and what an order uses when many are in flight (batches fill up: fewer requests per order than
one order at a time).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from benchmarks import calls, cost
from benchmarks.cost import Usage
from localcloud.cloud import LocalCloud
from localcloud.soak import Pace, place_order


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
    runtime = cloud.runtime
    assert cloud.wait_until_idle(timeout=60, settle=1)
    calls_before, invocations_before = Counter(runtime.calls), sum(runtime.invocations.values())
    capacity_before, duration_before = dict(runtime.capacity), dict(runtime.duration_ms)
    logged_before, batches_before = sum(runtime.log_bytes.values()), cloud.activity.counters["sqs_batch"]
    memory_gb = {spec.name: spec.memory_mb / 1024 for spec in runtime.functions.values()}

    started = time.perf_counter()
    pace = Pace(0)
    with ThreadPoolExecutor(clients) as pool:
        order_ids = list(pool.map(lambda _: place_order(cloud, "tok_ok", pace), range(orders)))
    deadline = time.monotonic() + 600
    while any(calls.status(cloud, order_id) not in calls.TERMINAL for order_id in order_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("the orders did not finish in 10 minutes")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    cloud.wait_until_idle(timeout=60, settle=2)

    made = Counter(runtime.calls)
    made.subtract(calls_before)
    units = {key: value - capacity_before.get(key, 0.0) for key, value in runtime.capacity.items()}
    gb_seconds = sum(
        (ms - duration_before.get(name, 0.0)) / 1000 * memory_gb[name] for name, ms in runtime.duration_ms.items()
    )
    batches = cloud.activity.counters["sqs_batch"] - batches_before
    sent = made["sqs.SendMessage"] + made["sqs.SendMessageBatch"] + made["sqs.DeleteMessage"]
    usage = replace(
        cost.usage(shipped),
        invocations=(sum(runtime.invocations.values()) - invocations_before) / orders,
        gb_seconds=gb_seconds / orders,
        write_units=sum(v for k, v in units.items() if k.startswith("WRU ")) / orders,
        read_units=sum(v for k, v in units.items() if k.startswith("RRU ")) / orders,
        sqs_requests=(2 * batches + sent) / orders + shipped.sqs_task_messages,
        sns_publishes=(made["sns.Publish"] + made["sns.PublishBatch"]) / orders,
        log_bytes=(sum(runtime.log_bytes.values()) - logged_before) / orders,
    )
    return Throughput(orders=orders, seconds=seconds, usage=usage)
