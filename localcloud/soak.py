"""The chaos soak: many orders through the local cloud with faults on, then every fault off,
the dead-letter queues redriven, and the invariants checked.

    python -m localcloud.soak --orders 1000    (make soak)

It prints a summary table and exits non-zero when an invariant is broken.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from localcloud import state
from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from localcloud.faults import Fault, FaultPlan
from orderflow.adapters.dynamodb import from_item
from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS, EventType, Key
from orderflow.ops import dlq, failures

TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}  # as customers see them (the read model)
SETTLED = {"CONFIRMED", "CANCELLED", "NEEDS_ATTENTION"}  # the order's own last statuses
SOAK_STOCK = 1_000_000  # per product: only the out-of-stock orders run out
SCARCE_SKU = "DK-006"  # ordered 99 at a time: always out of stock

# What the soak injects by default (see `localcloud.faults`; `make local FAULTS=localcloud/chaos.json`).
CHAOS = Path(__file__).with_name("chaos.json")
# Payment tokens (and one out-of-stock order in twenty).
MIX = [("tok_ok", 15), ("tok_declined", 2), ("tok_flaky", 2), ("out_of_stock", 1)]
# How each kind of order may end (`_outcome`). Faults, contention included, may delay an order or
# leave it NEEDS_ATTENTION, never cancel it for a reason it did not give: a good card on stock
# that is there ships unless the provider is down.
MAY_END = {
    "tok_ok": {"CONFIRMED", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "tok_flaky": {"CONFIRMED", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "tok_declined": {"CANCELLED (PAYMENT_DECLINED)", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "out_of_stock": {"CANCELLED (OUT_OF_STOCK)", "NEEDS_ATTENTION"},
}
CUSTOMER_PREFIX = "soak-"  # each order's customer id names its kind: soak-tok_ok


@dataclass
class Soak:
    orders: int = 1000
    clients: int = 4
    rate: float = 0.0  # orders placed per second, all clients together (0: as fast as they go)
    seed: int = 7
    faults: list[Fault] = field(default_factory=lambda: FaultPlan.load(CHAOS).faults)
    settle_seconds: float = 10.0  # stop waiting once no event source had work for this long
    deadline_seconds: float = 3600.0


@dataclass
class Report:
    orders: int
    statuses: Counter[str]
    faults: Counter[str]
    faulted_share: float
    invocations: int
    retries: Counter[str]
    payments: Counter[str]
    peak_depth: Counter[str]
    dead_lettered: dict[str, int]
    redriven: int
    violations: list[str]
    seconds: dict[str, float]
    seed: int = 7

    def table(self) -> str:
        rows = [
            ("seed", str(self.seed)),
            ("orders", str(self.orders)),
            ("final status", ", ".join(f"{status} {n}" for status, n in sorted(self.statuses.items()))),
            ("function invocations", str(self.invocations)),
            ("invocations faulted", f"{self.faulted_share:.1%}"),
            *((f"faults injected: {kind}", str(n)) for kind, n in sorted(self.faults.items())),
            *((f"retried: {kind}", str(n)) for kind, n in sorted(self.retries.items())),
            (
                "dead-lettered",
                ", ".join(f"{queue} {n}" for queue, n in sorted(self.dead_lettered.items())) or "0",
            ),
            ("redriven", str(self.redriven)),
            *((f"payments: {outcome}", str(n)) for outcome, n in sorted(self.payments.items())),
            *((f"deepest backlog: {queue}", str(n)) for queue, n in sorted(self.peak_depth.items()) if n),
            *((f"time: {phase}", f"{s:.0f} s") for phase, s in self.seconds.items()),
            ("violations", str(len(self.violations))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'soak':<{width}} | result |", f"|{'-' * (width + 2)}|---|"]
        lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
        return "\n".join(lines)


def run(soak: Soak, say: Callable[[str], None] = print) -> Report:
    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        return _run(cloud, soak, say)


def _run(cloud: LocalCloud, soak: Soak, say: Callable[[str], None]) -> Report:
    seconds: dict[str, float] = {}
    cloud.seed()
    _stock_up(cloud)
    before = _stock(cloud)
    tally = Tally(cloud)
    plan = cloud.runtime.faults
    plan.set(soak.faults, seed=soak.seed)
    started = time.monotonic()
    paced = f", {soak.rate:g} a second" if soak.rate else ""
    say(f"placing {soak.orders} orders{paced} with faults on ({len(soak.faults)} kinds), seed {soak.seed}")
    order_ids = _place_all(cloud, soak, say)
    seconds["placing"] = time.monotonic() - started
    say(f"placed in {seconds['placing']:.0f} s; waiting while the faults go on")
    _wait(cloud, order_ids, quiet_for=soak.settle_seconds, deadline=started + soak.deadline_seconds, say=say)
    seconds["with faults"] = time.monotonic() - started
    plan.clear()
    faults, faulted, invocations = Counter(plan.injected), plan.faulted_invocations, plan.invocations
    say("faults off; redriving the dead-letter queues")
    dead_lettered, redriven = _redrive_all(cloud, say)
    recovering = time.monotonic()
    _wait(cloud, order_ids, quiet_for=soak.settle_seconds, deadline=recovering + 600, say=say)
    cloud.wait_until_idle(timeout=120, settle=2)
    seconds["recovery"] = time.monotonic() - recovering
    tally.stop()
    say("checking the invariants")
    violations = check(cloud, order_ids, before)
    return Report(
        orders=len(order_ids),
        statuses=_outcomes(cloud, order_ids),
        faults=faults,
        faulted_share=faulted / invocations if invocations else 0.0,
        invocations=invocations,
        retries=tally.retries,
        payments=tally.payments,
        peak_depth=tally.peak_depth,
        dead_lettered=dead_lettered,
        redriven=redriven,
        violations=violations,
        seconds=seconds,
        seed=soak.seed,
    )


# --- orders ------------------------------------------------------------------------------------


def _stock_up(cloud: LocalCloud) -> None:
    dynamodb = cloud.client("dynamodb")
    table = cloud.table_name("Catalogue")
    for sku in _stock(cloud):
        if sku != SCARCE_SKU:
            dynamodb.update_item(
                TableName=table,
                Key={Key.SKU: {"S": sku}},
                UpdateExpression="SET available = :n",
                ExpressionAttributeValues={":n": {"N": str(SOAK_STOCK)}},
            )


def _place_all(cloud: LocalCloud, soak: Soak, say: Callable[[str], None]) -> list[str]:
    chooser = random.Random(soak.seed)  # noqa: S311 - a test mix
    kinds = chooser.choices([kind for kind, _ in MIX], weights=[w for _, w in MIX], k=soak.orders)
    pace = Pace(soak.rate)
    placed = Counter[str]()
    step = max(1, soak.orders // 10)
    counting = threading.Lock()

    def place(kind: str) -> str:
        order_id = place_order(cloud, kind, pace)
        with counting:
            placed["orders"] += 1
            if placed["orders"] % step == 0:
                say(f"  placed {placed['orders']}")
        return order_id

    with ThreadPoolExecutor(soak.clients) as clients:
        return list(clients.map(place, kinds))


class Pace:
    """Arrivals at a steady `rate` per second across every client (a soak, not a burst)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            slot, self._next = self._next, max(self._next, time.monotonic()) + self._interval
        time.sleep(max(0.0, slot - time.monotonic()))


def place_order(cloud: LocalCloud, kind: str, pace: Pace) -> str:
    """POST /orders like a careful client: one idempotency key, retried on 5xx, 429 and 409 (a
    request still in progress: the function failed mid-way and its lock expires with the
    function's timeout) for up to a minute."""
    lines = [{"sku": SCARCE_SKU, "quantity": 99}] if kind == "out_of_stock" else [{"sku": "MS-002", "quantity": 2}]
    body = {
        "customer_id": f"{CUSTOMER_PREFIX}{kind}",
        "items": lines,
        "currency": "EUR",
        "payment_token": "tok_ok" if kind == "out_of_stock" else kind,
    }
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    pace.wait()
    deadline = time.monotonic() + 60
    attempt = 0
    while True:
        answer = cloud.api.request("POST", "/orders", body, headers)
        if answer.status == 202:
            return str(answer.body["order_id"])
        if answer.status < 500 and answer.status not in (409, 429):
            raise RuntimeError(f"order refused: {answer.status} {answer.body}")
        if time.monotonic() > deadline:
            break
        time.sleep(min(2.0, 0.1 * 2**attempt))
        attempt += 1
    raise RuntimeError(f"order not accepted after retries: {answer.status} {answer.body}")


def _wait(
    cloud: LocalCloud, order_ids: list[str], *, quiet_for: float, deadline: float, say: Callable[[str], None]
) -> None:
    """Until every order is terminal, or no saga is running and no event source has had
    anything to do for `quiet_for` seconds (what is left waits in a DLQ)."""
    last: Counter[str] = Counter()
    while time.monotonic() < deadline:
        statuses = Counter(_views(cloud, order_ids).values())
        if sum(statuses[s] for s in TERMINAL) == len(order_ids):
            return
        if statuses != last:
            last = statuses
            say("  " + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())))
        if cloud.wait_until_idle(timeout=quiet_for + 5, settle=quiet_for) and not _sagas_running(cloud):
            return


def _sagas_running(cloud: LocalCloud) -> bool:
    """A saga waiting out a retry interval or a task's timeout shows in no event source."""
    running = cloud.client("stepfunctions").list_executions(
        stateMachineArn=str(cloud.deployment.outputs["StateMachine"]), statusFilter="RUNNING", maxResults=1
    )
    return bool(running["executions"])


def _redrive_all(cloud: LocalCloud, say: Callable[[str], None]) -> tuple[dict[str, int], int]:
    """Redrive every DLQ and failure destination until they are empty or hold only what a round
    kept (with its reason said). Returns how many messages each queue held
    (a message kept in a round is not counted again in the next) and how many were moved."""
    sqs = cloud.client("sqs")
    dead_lettered: dict[str, int] = {}
    kept: dict[str, int] = {}  # per queue: records left there, with a reason, by the last round
    moved = 0
    # A message dead-lettered while its idempotency record was left in progress (the function
    # failed before completing it) fails again until that record expires, after the function's
    # timeout: wait that long before each round, as an operator would.
    lock_expiry = max(spec.timeout_seconds for spec in cloud.deployment.functions.values())
    for _ in range(5):
        cloud.wait_until_idle(timeout=120, settle=2)
        waiting = [q for q in dlq.dead_letter_queues(sqs) if q.depth > kept.get(q.name, 0)]
        if not waiting:
            break
        time.sleep(lock_expiry)
        for queue in waiting:
            dead_lettered[queue.name] = dead_lettered.get(queue.name, 0) + queue.depth - kept.get(queue.name, 0)
            if queue.source_url:
                result = dlq.redrive(sqs, queue, per_second=200)
                say(f"  redrove {result.moved} from {queue.name}")
                moved += result.moved
                continue
            # A failure destination: stream batches read again, rule events sent again.
            outcome = failures.redrive(cloud.client, queue, per_second=200)
            say(f"  redrove {outcome.redriven} failure record(s) from {queue.name}")
            moved += outcome.redriven
            # A partly published batch was replaced by a record of what is left: that one is
            # for the next round, not kept.
            kept[queue.name] = len(outcome.kept) - outcome.replaced
            for reason in outcome.kept:
                say(f"  kept in {queue.name}: {reason}")
    return dead_lettered, moved


# --- reading state ----------------------------------------------------------------------------


def _scan(cloud: LocalCloud, logical_prefix: str) -> list[dict[str, Any]]:
    paginator = cloud.client("dynamodb").get_paginator("scan")
    return [
        from_item(item)
        for page in paginator.paginate(TableName=cloud.table_name(logical_prefix))
        for item in page["Items"]
    ]


def _orders(cloud: LocalCloud, order_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = set(order_ids)
    return {item[Key.ORDER_ID]: item for item in _scan(cloud, "Orders") if item[Key.ORDER_ID] in wanted}


def _views(cloud: LocalCloud, order_ids: Iterable[str]) -> dict[str, str]:
    """Each order's status in the read model (PENDING until its summary exists)."""
    statuses = dict.fromkeys(order_ids, "PENDING")
    for item in _scan(cloud, "OrderViews"):
        if item[Key.VIEW_SK] == "SUMMARY" and item[Key.ORDER_ID] in statuses:
            statuses[item[Key.ORDER_ID]] = item["status"]
    return statuses


def _outcome(order: dict[str, Any]) -> str:
    """`CONFIRMED`, `CANCELLED (OUT_OF_STOCK)`, ..."""
    return f"{order['status']} ({order['reason']})" if order.get("reason") else str(order["status"])


def _outcomes(cloud: LocalCloud, order_ids: list[str]) -> Counter[str]:
    """Final statuses, cancellations by reason."""
    return Counter(_outcome(order) for order in _orders(cloud, order_ids).values())


def _stock(cloud: LocalCloud) -> dict[str, dict[str, int]]:
    return {
        item[Key.SKU]: {level: int(item.get(level, 0)) for level in ("available", "reserved", "sold")}
        for item in _scan(cloud, "Catalogue")
    }


class Tally:
    """What the soak counts while it runs: retries (from the pollers' reports), payment
    outcomes and circuit transitions (from the payments function's logs), and each consumer
    queue's deepest backlog (sampled)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.retries: Counter[str] = Counter()
        self.payments: Counter[str] = Counter()
        self.peak_depth: Counter[str] = Counter()
        self._cloud = cloud
        self._stop = threading.Event()
        cloud.report_listeners.append(self._on_report)
        cloud.log_listeners.append(self._on_log)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def stop(self) -> None:
        self._stop.set()
        self._sampler.join()
        self.retries["saga task attempts"] = self._cloud.activity.counters["saga_task_failed"]

    def _on_report(self, kind: str, details: dict[str, Any]) -> None:
        if kind == "sqs_batch" and details["failed"]:
            self.retries["queue messages"] += len(details["failed"])
        elif kind == "stream_batch" and details["failed"]:
            self.retries["stream batches"] += 1
        elif kind == "rule_delivery_failed":
            self.retries["rule deliveries (then DLQ)"] += 1

    def _on_log(self, function: str, entry: dict[str, Any] | str) -> None:
        if not isinstance(entry, dict):
            return
        if entry.get("message") == "payment processed":
            self.payments[str(entry.get("outcome"))] += 1
        elif entry.get("message") == "payment gateway circuit changed":
            # e.g. "CircuitTransition(..., from_state=<CircuitState.CLOSED: 'CLOSED'>, to_state=<...: 'OPEN'>, ...)"
            states = re.findall(r"'([A-Z_]+)'>", str(entry.get("transition")))
            self.payments[f"circuit {' -> '.join(states) or 'changed'}"] += 1

    def _sample(self) -> None:
        sqs = self._cloud.client("sqs")
        dead = {queue.url for queue in dlq.dead_letter_queues(sqs)}
        queues = [url for url in sqs.list_queues().get("QueueUrls", []) if url not in dead]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while not self._stop.wait(2):
            for url in queues:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
                depth = sum(int(value) for value in attributes.values())
                name = url.rsplit("/", 1)[-1].removeprefix("orderflow-")
                self.peak_depth[name] = max(self.peak_depth[name], depth)


# --- invariants ---------------------------------------------------------------------------------


def check(cloud: LocalCloud, order_ids: list[str], stock_before: dict[str, dict[str, int]]) -> list[str]:
    """Every broken invariant, one line each (none when the system kept its promises)."""
    orders = _orders(cloud, order_ids)
    ours = set(order_ids)
    events: dict[str, list[dict[str, Any]]] = {order_id: [] for order_id in ours}
    for item in _scan(cloud, "Outbox"):
        if item["subject"] in ours:
            events[item["subject"]].append(item)
    views: dict[str, dict[str, Any]] = {}
    timelines: dict[str, list[str]] = {order_id: [] for order_id in ours}
    for item in _scan(cloud, "OrderViews"):
        if item[Key.ORDER_ID] not in ours:
            continue
        if item[Key.VIEW_SK] == "SUMMARY":
            views[item[Key.ORDER_ID]] = item
        else:
            timelines[item[Key.ORDER_ID]].append(item[Key.EVENT_ID])
    notified: dict[str, list[str]] = {order_id: [] for order_id in ours}
    for item in _scan(cloud, "Notifications"):
        if item[Key.ORDER_ID] in ours:
            notified[item[Key.ORDER_ID]].append(item[Key.NOTIFICATION_SK])
    shipped = Counter(item[Key.ORDER_ID] for item in _scan(cloud, "Shipments"))
    ledger = {
        item[Key.LEDGER_KEY].removeprefix("charge#"): item
        for item in _scan(cloud, "PaymentLedger")
        if item[Key.LEDGER_KEY].startswith("charge#")
    }

    violations: list[str] = []
    for order_id in order_ids:
        order = orders.get(order_id)
        if order is None:
            violations.append(f"{order_id}: accepted but not stored")
            continue
        violations += _order_invariants(order, events[order_id], timelines[order_id], notified[order_id], shipped)
        # The read model shows SHIPPED for a confirmed order once it has shipped.
        expected = "SHIPPED" if order["status"] == "CONFIRMED" and shipped[order_id] else order["status"]
        seen = views.get(order_id, {}).get("status")
        if seen != expected:
            violations.append(f"{order_id}: the read model shows {seen}, the order is {expected}")
    violations += _money(orders, ledger)
    violations += _conserved(orders, stock_before, _stock(cloud))
    violations += _left_in_dead_letter_queues(cloud)
    return violations


def _left_in_dead_letter_queues(cloud: LocalCloud) -> list[str]:
    sqs = cloud.client("sqs")
    left = []
    for queue in dlq.dead_letter_queues(sqs):
        if queue.depth:
            for letter in dlq.show(sqs, queue, reason_for=lambda message: state.reason(cloud, message)):
                left.append(f"{queue.name}: {letter.event_type} {letter.order_id} left after redrive: {letter.reason}")
    return left


def _order_invariants(
    order: dict[str, Any],
    events: list[dict[str, Any]],
    timeline: list[str],
    notified: list[str],
    shipments: Counter[str],
) -> list[str]:
    order_id, status = order[Key.ORDER_ID], order["status"]
    problems = []
    if status not in SETTLED:
        problems.append(f"{order_id}: not terminal ({status})")
    kind = str(order.get("customer_id", "")).removeprefix(CUSTOMER_PREFIX)
    if status in SETTLED and _outcome(order) not in MAY_END.get(kind, set()):
        detail = next(
            (json.loads(e["envelope"])["data"].get("detail") for e in events if e["event_type"] == "OrderCancelled"),
            None,
        )
        problems.append(f"{order_id}: placed as {kind}, ended {_outcome(order)}" + (f": {detail}" if detail else ""))
    types = Counter(event["event_type"] for event in events)
    if types[EventType.PAYMENT_RECEIVED] > 1:
        problems.append(f"{order_id}: paid {types[EventType.PAYMENT_RECEIVED]} times")
    expected = sorted(e[Key.EVENT_ID] for e in events if e["event_type"] in ORDER_EVENTS)
    if sorted(timeline) != expected:
        problems.append(f"{order_id}: history applied {len(timeline)} events of {len(expected)} published")
    expected = sorted(e[Key.EVENT_ID] for e in events if e["event_type"] in CUSTOMER_FACING_EVENTS)
    if sorted(notified) != expected:
        problems.append(f"{order_id}: {len(notified)} notifications for {len(expected)} customer-facing events")
    confirmed = types[EventType.ORDER_CONFIRMED]
    if shipments[order_id] != confirmed or types[EventType.ORDER_SHIPPED] != confirmed:
        problems.append(f"{order_id}: confirmed {confirmed}x, shipped {types[EventType.ORDER_SHIPPED]}x")
    return problems


def _money(orders: dict[str, dict[str, Any]], ledger: dict[str, dict[str, Any]]) -> list[str]:
    """paid - refunded = the totals of confirmed orders, from the provider's ledger (a charge
    refunded in full is REFUNDED). Orders needing attention are left out: what happens to their
    money is an operator's decision."""
    settled = {order_id for order_id, order in orders.items() if order["status"] != "NEEDS_ATTENTION"}
    kept = sum(
        (
            Decimal(str(entry["amount"]))
            for order_id, entry in ledger.items()
            if order_id in settled and entry.get("status") == "CHARGED"
        ),
        Decimal(0),
    )
    confirmed = sum((Decimal(str(o["total"])) for o in orders.values() if o["status"] == "CONFIRMED"), Decimal(0))
    return [] if kept == confirmed else [f"paid - refunded = {kept}, confirmed orders total {confirmed}"]


def _conserved(
    orders: dict[str, dict[str, Any]], before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> list[str]:
    problems = []
    sold: Counter[str] = Counter()
    held: Counter[str] = Counter()
    for order in orders.values():
        for line in order["items"]:
            if order["status"] == "CONFIRMED":
                sold[line["sku"]] += int(line["quantity"])
            elif order["status"] == "NEEDS_ATTENTION":
                held[line["sku"]] += int(line["quantity"])
    for sku, levels in after.items():
        if sum(levels.values()) != sum(before[sku].values()):
            problems.append(f"{sku}: stock not conserved {before[sku]} -> {levels}")
        if levels["sold"] - before[sku]["sold"] != sold[sku]:
            problems.append(f"{sku}: sold {levels['sold'] - before[sku]['sold']}, confirmed orders hold {sold[sku]}")
        if not 0 <= levels["reserved"] - before[sku]["reserved"] <= held[sku]:
            problems.append(f"{sku}: {levels['reserved'] - before[sku]['reserved']} reserved, not by any open order")
    return problems


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--rate", type=float, default=1.0, help="orders per second, all clients together (0: unpaced)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    report = run(Soak(orders=args.orders, clients=args.clients, rate=args.rate, seed=args.seed), say=_say)
    print(report.table())
    for violation in report.violations[:50]:
        print(f"VIOLATION {violation}")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
