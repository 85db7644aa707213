"""The chaos soak: many orders through the local cloud with faults on, then every fault off,
the dead-letter queues redriven, and every order reconciled.

    python -m localcloud.soak --orders 1000 --seed 7    (make soak)

It prints its seed and a summary table, and exits non-zero when an invariant is broken. The
parts: `load` (the orders and the stock), `localcloud.faults` (the fault plan), `checker` (the
invariants, order by order) and `report` (the table).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from localcloud.faults import Fault, FaultPlan
from localcloud.soak import checker
from localcloud.soak.load import place_all, plan_orders, stock_up
from localcloud.soak.report import Report
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.order_views import SUMMARY
from orderflow.contracts import Key
from orderflow.domain.inventory import StockLevel
from orderflow.domain.order_view import OrderView
from orderflow.ops import dlq, failures

# What the soak injects by default (see `localcloud.faults`; `make local FAULTS=localcloud/chaos.json`).
CHAOS = Path(__file__).parents[1] / "chaos.json"
TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}  # as customers see them (the read model)


@dataclass
class Soak:
    orders: int = 1000
    clients: int = 4
    rate: float = 0.0  # orders placed per second, all clients together (0: as fast as they go)
    seed: int = 7
    faults: list[Fault] = field(default_factory=lambda: FaultPlan.load(CHAOS).faults)
    settle_seconds: float = 10.0  # stop waiting once no event source had work for this long
    deadline_seconds: float = 3600.0


def run(soak: Soak, say: Callable[[str], None] = print) -> tuple[Report, checker.Evidence]:
    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        return run_on(cloud, soak, say)


def run_on(cloud: LocalCloud, soak: Soak, say: Callable[[str], None]) -> tuple[Report, checker.Evidence]:
    seconds: dict[str, float] = {}
    cloud.seed()
    stock_up(cloud, soak.orders)
    before = {sku: level for sku, level in checker.stock_levels(cloud).items() if isinstance(level, StockLevel)}
    tally = Tally(cloud)
    plan = cloud.runtime.faults
    plan.set(soak.faults, seed=soak.seed)
    started = time.monotonic()
    wall_started = time.time()
    paced = f", {soak.rate:g} a second" if soak.rate else ""
    say(f"placing {soak.orders} orders{paced} with faults on ({len(soak.faults)} kinds), seed {soak.seed}")
    placed = place_all(cloud, plan_orders(soak.orders, soak.seed), clients=soak.clients, rate=soak.rate, say=say)
    order_ids = [p.order_id for p in placed]
    seconds["placing"] = time.monotonic() - started
    say(f"placed in {seconds['placing']:.0f} s; waiting while the faults go on")
    _wait(cloud, order_ids, quiet_for=soak.settle_seconds, deadline=started + soak.deadline_seconds, say=say)
    seconds["with faults"] = time.monotonic() - started
    plan.clear()
    faults = Counter(plan.injected)
    hurt = plan.faulted_invocations
    say("faults off; redriving the dead-letter queues")
    dead_lettered, redriven = _redrive_all(cloud, say)
    recovering = time.monotonic()
    _wait(cloud, order_ids, quiet_for=soak.settle_seconds, deadline=recovering + 600, say=say)
    cloud.wait_until_idle(timeout=120, settle=2)
    seconds["recovery"] = time.monotonic() - recovering
    tally.stop()
    say("reconciling every order")
    evidence = checker.gather(cloud, placed, before, tally.lowest_available)
    verdict = checker.check(evidence)
    transitions = _alarm_transitions(cloud, since=wall_started)
    verdict.violations.extend(_silent_alarms(cloud, dead_lettered, transitions))
    seconds["checking"] = time.monotonic() - recovering - seconds["recovery"]
    seconds["wall"] = time.monotonic() - started
    report = Report(
        seed=soak.seed,
        orders=len(placed),
        statuses=checker.summary(evidence),
        faults=faults,
        faulted_share=hurt / plan.invocations if plan.invocations else 0.0,
        invocations=plan.invocations,
        retries=tally.retries,
        payments=tally.payments,
        peak_depth=tally.peak_depth,
        dead_lettered=dead_lettered,
        redriven=redriven,
        violations=verdict.violations,
        attention=verdict.attention,
        seconds=seconds,
        good_shipped=_good_shipped(evidence),
        peak_environments=Counter(
            {spec.logical_id: cloud.runtime.peak_concurrency[name] for name, spec in cloud.runtime.functions.items()}
        ),
        alarm_transitions=transitions,
    )
    return report, evidence


def _alarm_transitions(cloud: LocalCloud, since: float) -> list[tuple[float, str, str, str]]:
    """Every alarm state change of the run, in order: (seconds since `since`, alarm, old, new)."""
    changes = [
        (when - since, name, old, new)
        for name, state in cloud.cloudwatch.states.items()
        for when, old, new in list(state.changes)
    ]
    return sorted(changes)


def _silent_alarms(
    cloud: LocalCloud, dead_lettered: dict[str, int], transitions: list[tuple[float, str, str, str]]
) -> list[str]:
    """A queue that received dead letters whose alarm never went to ALARM: the operator would
    not have been told (the count comes from the queues, not from CloudWatch)."""
    alarmed = {name for _, name, _, new in transitions if new == "ALARM"}
    silent = []
    for queue, count in sorted(dead_lettered.items()):
        watching = [name for name, alarm in cloud.cloudwatch.alarms.items() if ("QueueName", queue) in alarm.metric[2]]
        if count and not alarmed.intersection(watching):
            silent.append(
                f"{queue} received {count} message(s) but its alarm ({', '.join(watching) or 'none'}) never fired"
            )
    return silent


def _good_shipped(evidence: checker.Evidence) -> tuple[int, int]:
    """`tok_ok` orders that had stock (all but those that met the limited SKU sold out): how
    many shipped, of how many."""
    good = [
        order
        for order in evidence.orders.values()
        if order.placed.planned.kind == "tok_ok"
        and not (order.order and checker.outcome(order.order) == checker.LIMITED_MAY_ALSO_END)
    ]
    return sum(checker.shipped(order) for order in good), len(good)


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
    """Redrive every DLQ and failure destination, round after round, until they are empty or
    five rounds have passed (what is left is then a violation, with its reason). A record a
    round kept is tried again in the next. Returns how many messages each queue received
    (one kept and tried again is counted once) and how many were moved."""
    sqs = cloud.client("sqs")
    dead_lettered: dict[str, int] = {}
    kept: dict[str, int] = {}  # per queue: records the last round left there, with a reason
    moved = 0
    # A message dead-lettered while its idempotency record was left in progress (the function
    # failed before completing it) fails again until that record expires, after the function's
    # timeout: wait that long before each round, as an operator would.
    lock_expiry = max(spec.timeout_seconds for spec in cloud.deployment.functions.values())
    for _ in range(5):
        cloud.wait_until_idle(timeout=120, settle=2)
        if not any(queue.depth for queue in dlq.dead_letter_queues(sqs)):
            break
        time.sleep(lock_expiry)
        cloud.wait_until_idle(timeout=120, settle=2)
        for queue in dlq.dead_letter_queues(sqs):  # read again: more may have arrived meanwhile
            if not queue.depth:
                continue
            dead_lettered[queue.name] = dead_lettered.get(queue.name, 0) + queue.depth - kept.get(queue.name, 0)
            if queue.source_url:
                result = dlq.redrive(sqs, queue, per_second=200)
                say(f"  redrove {result.moved} from {queue.name}")
                moved += result.moved
                kept[queue.name] = queue.depth - result.moved
                continue
            # A failure destination: stream batches read again, rule events sent again.
            outcome = failures.redrive(cloud.client, queue, per_second=200)
            say(f"  redrove {outcome.redriven} failure record(s) from {queue.name}")
            moved += outcome.redriven
            # A partly published batch is replaced by a record of what is left: a new record.
            kept[queue.name] = len(outcome.kept) - outcome.replaced
            for reason in outcome.kept:
                say(f"  kept in {queue.name}: {reason}")
    return dead_lettered, moved


def _views(cloud: LocalCloud, order_ids: list[str]) -> dict[str, str]:
    """Each order's status in the read model (PENDING until its summary exists), read whole
    (one scan, not a query per order, as this is polled)."""
    statuses = dict.fromkeys(order_ids, "PENDING")
    paginator = cloud.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=cloud.table_name("OrderViews")):
        for raw in page["Items"]:
            item = from_item(raw)
            if item[Key.VIEW_SK] == SUMMARY and item[Key.ORDER_ID] in statuses:
                statuses[item[Key.ORDER_ID]] = OrderView.model_validate(item).status
    return statuses


class Tally:
    """What the soak counts while it runs: retries (from the pollers' reports), payment
    outcomes and circuit transitions (from the payments function's logs), each consumer
    queue's deepest backlog and each product's lowest available stock (sampled)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.retries: Counter[str] = Counter()
        self.payments: Counter[str] = Counter()
        self.peak_depth: Counter[str] = Counter()
        self.lowest_available: dict[str, int] = {}
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
            self._sample_stock()

    def _sample_stock(self) -> None:
        """The catalogue's available counts as stored (not through the model, which would
        refuse a negative one)."""
        dynamodb = self._cloud.client("dynamodb")
        table = self._cloud.table_name("Catalogue")
        for item in dynamodb.scan(TableName=table, ProjectionExpression="sku, available")["Items"]:
            sku, available = item[Key.SKU]["S"], int(item["available"]["N"])
            self.lowest_available[sku] = min(self.lowest_available.get(sku, available), available)
