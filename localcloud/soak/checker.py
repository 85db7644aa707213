"""The soak's checker: every order reconciled, one by one, from sources that do not depend on
each other, so that errors cannot cancel out in a total.

- money: the payment provider's own ledger (not orderflow's tables or events);
- stock: the catalogue's levels, against the lines of the orders that shipped;
- side effects: the shipments and notifications sinks;
- lifecycle: the orders, the read model and the saga executions;
- messages: the outbox's events against what each subscriber applied, and the DLQs.

`gather` reads it all through orderflow's adapters; `check` is a pure function of what was
gathered, so each invariant is tested by planting exactly its violation (`tests/unit/test_soak_checker.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pydantic import ValidationError

from localcloud import state
from localcloud.cloud import LocalCloud
from localcloud.faults import is_injected
from localcloud.soak.load import LIMITED_SKU, Placed
from orderflow.adapters.dynamodb import batch_get
from orderflow.adapters.notifications import Notification, RecordingChannel
from orderflow.adapters.outbox import stored_events
from orderflow.adapters.payment_gateway import CHARGED, REFUNDED, LedgerEntry, SimulatedGateway
from orderflow.adapters.unit_of_work import DynamoDbUnitOfWork, StoreTables
from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS, EventType, Key
from orderflow.domain.inventory import ReservationStatus, StockLevel
from orderflow.domain.order_view import OrderView, TimelineEntry
from orderflow.domain.orders import Order
from orderflow.domain.shipping import Shipment
from orderflow.events import AnyEvent
from orderflow.events.types import CancellationReason, OrderStatus
from orderflow.ops import dlq

# How each kind of order may end. Faults, contention included, may delay an order or leave it
# NEEDS_ATTENTION (with an injected cause), never cancel it for a reason it did not give: a good
# card on stock that is there ships unless the provider stays down past the payment deadline.
MAY_END: dict[str, set[str]] = {
    "tok_ok": {"CONFIRMED", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "tok_flaky": {"CONFIRMED", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "tok_declined": {"CANCELLED (PAYMENT_DECLINED)", "CANCELLED (PAYMENT_UNAVAILABLE)", "NEEDS_ATTENTION"},
    "out_of_stock": {"CANCELLED (OUT_OF_STOCK)", "NEEDS_ATTENTION"},
}
LIMITED_MAY_ALSO_END = "CANCELLED (OUT_OF_STOCK)"  # a card order that met the limited SKU sold out
# What happens at most once to an order (stock updates, payment commands and alerts may repeat).
ONCE = (
    EventType.ORDER_CREATED,
    EventType.INVENTORY_RESERVED,
    EventType.INVENTORY_RELEASED,
    EventType.PAYMENT_RECEIVED,
    EventType.PAYMENT_DECLINED,
    EventType.PAYMENT_REFUNDED,
    EventType.ORDER_CONFIRMED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_SHIPPED,
)
# The saga execution's status for each final order status.
EXECUTION_ENDS = {
    OrderStatus.CONFIRMED: {"SUCCEEDED"},
    OrderStatus.CANCELLED: {"SUCCEEDED"},
    OrderStatus.NEEDS_ATTENTION: {"FAILED", "TIMED_OUT"},
}


@dataclass
class OrderEvidence:
    """What every source says about one order."""

    placed: Placed
    order: Order | None = None
    view: OrderView | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    events: list[AnyEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    shipment: Shipment | None = None
    reservation_held: bool = False
    ledger: list[LedgerEntry] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)  # statuses of the saga executions named after it
    payment_deadline: datetime | None = None  # from its saga's input, for an order cancelled PAYMENT_UNAVAILABLE

    @property
    def order_id(self) -> str:
        return self.placed.order_id


@dataclass
class Evidence:
    orders: dict[str, OrderEvidence]
    stock_before: dict[str, StockLevel]
    stock_after: dict[str, StockLevel | str]  # a level, or why it could not be read (negative)
    lowest_available: dict[str, int] = field(default_factory=dict)  # sampled while the run went on
    dead_letters: list[str] = field(default_factory=list)  # one line per message left in a DLQ
    stray_executions: list[str] = field(default_factory=list)  # saga executions of no accepted order


@dataclass(frozen=True)
class Finding:
    """An order needing attention, with the injected fault that caused it (not a violation)."""

    order_id: str
    cause: str


@dataclass
class Verdict:
    violations: list[str]
    attention: list[Finding]


# --- gathering --------------------------------------------------------------------------------


def store(cloud: LocalCloud) -> DynamoDbUnitOfWork:
    tables = StoreTables(
        orders=cloud.table_name("Orders"),
        outbox=cloud.table_name("Outbox"),
        catalogue=cloud.table_name("Catalogue"),
        reservations=cloud.table_name("Reservations"),
        payments=cloud.table_name("Payments"),
        shipments=cloud.table_name("Shipments"),
        order_views=cloud.table_name("OrderViews"),
    )
    return DynamoDbUnitOfWork(tables, client=cloud.client("dynamodb"))


def stock_levels(cloud: LocalCloud) -> dict[str, StockLevel | str]:
    items = cloud.client("dynamodb").get_paginator("scan").paginate(TableName=cloud.table_name("Catalogue"))
    skus = [item[Key.SKU]["S"] for page in items for item in page["Items"]]
    raw = batch_get(cloud.client("dynamodb"), cloud.table_name("Catalogue"), [{Key.SKU: sku} for sku in skus])
    levels: dict[str, StockLevel | str] = {}
    for item in raw:
        try:
            levels[item[Key.SKU]] = StockLevel.model_validate(item)
        except ValidationError as invalid:  # available below zero, say
            levels[item[Key.SKU]] = f"invalid stock level {item}: {invalid.errors()[0]['msg']}"
    return levels


def gather(
    cloud: LocalCloud,
    placed: list[Placed],
    stock_before: dict[str, StockLevel],
    lowest_available: dict[str, int] | None = None,
) -> Evidence:
    uow = store(cloud)
    channel = RecordingChannel(cloud.table_name("Notifications"), client=cloud.client("dynamodb"))
    orders = {p.order_id: OrderEvidence(placed=p) for p in placed}

    def read(evidence: OrderEvidence) -> None:
        order_id = evidence.order_id
        evidence.order = uow.orders.get(order_id)
        evidence.view, evidence.timeline = uow.views.get(order_id)
        evidence.notifications = channel.sent_for(order_id)
        evidence.shipment = uow.shipments.get(order_id)
        reservation = uow.reservations.get(order_id)
        evidence.reservation_held = reservation is not None and reservation.status is ReservationStatus.RESERVED

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(read, orders.values()))
    for event in stored_events(cloud.client("dynamodb"), cloud.table_name("Outbox")):
        if event.subject in orders:
            orders[event.subject].events.append(event)
    gateway = SimulatedGateway(cloud.table_name("PaymentLedger"), client=cloud.client("dynamodb"))
    for entry in gateway.entries():
        if entry.reference in orders:
            orders[entry.reference].ledger.append(entry)
    stray = []
    sfn = cloud.client("stepfunctions")
    for name, status, arn in _executions(cloud):
        order = orders.get(name)
        if order is None:
            stray.append(f"{name} ({status})")
            continue
        order.executions.append(status)
        if order.order is not None and order.order.reason is CancellationReason.PAYMENT_UNAVAILABLE:
            deadline = json.loads(sfn.describe_execution(executionArn=arn)["input"]).get("payment_deadline")
            order.payment_deadline = datetime.fromisoformat(deadline) if deadline else None
    return Evidence(
        orders=orders,
        stock_before=stock_before,
        stock_after=stock_levels(cloud),
        lowest_available=lowest_available or {},
        dead_letters=_left_in_dead_letter_queues(cloud),
        stray_executions=stray,
    )


def _executions(cloud: LocalCloud) -> Iterable[tuple[str, str, str]]:
    sfn = cloud.client("stepfunctions")
    machine = str(cloud.deployment.outputs["StateMachine"])
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for execution in page["executions"]:
            yield execution["name"], execution["status"], execution["executionArn"]


def _left_in_dead_letter_queues(cloud: LocalCloud) -> list[str]:
    sqs = cloud.client("sqs")
    left = []
    for queue in dlq.dead_letter_queues(sqs):
        if queue.depth:
            for letter in dlq.show(sqs, queue, reason_for=lambda message: state.reason(cloud, message)):
                left.append(f"{queue.name}: {letter.event_type} {letter.order_id} left after redrive: {letter.reason}")
    return left


# --- checking -----------------------------------------------------------------------------


def check(evidence: Evidence) -> Verdict:
    """Every broken invariant, one line each (none when the system kept its promises), and the
    orders needing attention with their injected causes."""
    violations: list[str] = []
    attention: list[Finding] = []
    for order in evidence.orders.values():
        if order.order is None:
            violations.append(f"{order.order_id}: accepted but not stored")
            continue
        violations += lifecycle(order, attention)
        violations += money(order)
        violations += side_effects(order)
        violations += messages(order)
    violations += stock(evidence)
    violations += evidence.dead_letters
    violations += [f"saga execution {execution}: no accepted order" for execution in evidence.stray_executions]
    return Verdict(violations=violations, attention=attention)


def outcome(order: Order) -> str:
    """`CONFIRMED`, `CANCELLED (OUT_OF_STOCK)`, ..."""
    return f"{order.status} ({order.reason})" if order.reason else str(order.status)


def shipped(order: OrderEvidence) -> bool:
    return order.order is not None and order.order.status in (OrderStatus.CONFIRMED, OrderStatus.SHIPPED)


def lifecycle(order: OrderEvidence, attention: list[Finding]) -> list[str]:
    """A terminal status the order's kind allows, the saga's one execution ended consistently
    with it, the read model showing it, and NEEDS_ATTENTION only for an injected cause."""
    assert order.order is not None
    order_id, status = order.order_id, order.order.status
    if status is OrderStatus.PENDING:
        return [f"{order_id}: not terminal ({status})"]
    problems = []
    allowed = MAY_END[order.placed.planned.kind] | ({LIMITED_MAY_ALSO_END} if order.placed.planned.limited else set())
    if outcome(order.order) not in allowed:
        detail = next((e.data.detail for e in order.events if e.type == EventType.ORDER_CANCELLED), "")
        problems.append(
            f"{order_id}: placed as {order.placed.planned.kind}, ended {outcome(order.order)}"
            + (f": {detail}" if detail else "")
        )
    if order.order.reason is CancellationReason.PAYMENT_UNAVAILABLE:
        problems += _given_up_in_time(order)
    if len(order.executions) != 1:
        problems.append(f"{order_id}: {len(order.executions)} saga executions")
    elif order.executions[0] not in EXECUTION_ENDS[status]:
        problems.append(f"{order_id}: the order is {status}, its saga execution {order.executions[0]}")
    expected = (
        "SHIPPED" if shipped(order) and any(e.type == EventType.ORDER_SHIPPED for e in order.events) else str(status)
    )
    seen = str(order.view.status) if order.view else None
    if seen != expected:
        problems.append(f"{order_id}: the read model shows {seen}, the order is {expected}")
    if status is OrderStatus.NEEDS_ATTENTION:
        causes = [e.data.reason for e in order.events if e.type == EventType.SYSTEM_ALERT]
        injected = [cause for cause in causes if is_injected(cause)]
        if injected:
            attention.append(Finding(order_id, injected[0]))
        else:
            problems.append(f"{order_id}: NEEDS_ATTENTION with no injected cause: {causes or 'no alert'}")
    return problems


def _given_up_in_time(order: OrderEvidence) -> list[str]:
    """An order cancelled `PAYMENT_UNAVAILABLE` only once its payment deadline had passed."""
    cancelled = next((e.time for e in order.events if e.type == EventType.ORDER_CANCELLED), None)
    if order.payment_deadline is None or cancelled is None:
        return [f"{order.order_id}: cancelled PAYMENT_UNAVAILABLE with no payment deadline or no OrderCancelled"]
    if cancelled < order.payment_deadline:
        early = (order.payment_deadline - cancelled).total_seconds()
        return [f"{order.order_id}: cancelled PAYMENT_UNAVAILABLE {early:.0f} s before its payment deadline"]
    return []


def money(order: OrderEvidence) -> list[str]:
    """From the provider's ledger: the order's net is its total if it shipped and zero
    otherwise, and it was never charged twice over. What happens to the money of an order
    needing attention is an operator's decision."""
    assert order.order is not None
    if order.order.status is OrderStatus.NEEDS_ATTENTION:
        return []
    net = sum((entry.moved for entry in order.ledger), Decimal(0))
    problems = []
    expected = order.order.total if shipped(order) else Decimal(0)
    if net != expected:
        problems.append(f"{order.order_id}: the provider holds {net} for it, {outcome(order.order)} owes {expected}")
    outcomes = Counter(entry.outcome for entry in order.ledger)
    if outcomes[CHARGED] - outcomes[REFUNDED] > 1:
        problems.append(f"{order.order_id}: {outcomes[CHARGED] - outcomes[REFUNDED]} net charges at the provider")
    return problems


def side_effects(order: OrderEvidence) -> list[str]:
    """One shipment for a shipped order and none otherwise; one notification per
    customer-facing event."""
    problems = []
    if shipped(order) != (order.shipment is not None):
        problems.append(f"{order.order_id}: shipped {shipped(order)}, with {'a' if order.shipment else 'no'} shipment")
    expected = Counter(e.id for e in order.events if e.type in CUSTOMER_FACING_EVENTS)
    sent = Counter(notification.notification_id for notification in order.notifications)
    if sent != expected:
        problems.append(
            f"{order.order_id}: {sum(sent.values())} notifications for {len(expected)} customer-facing events"
        )
    return problems


def messages(order: OrderEvidence) -> list[str]:
    """Every event the order published, applied by each subscriber: the history (its
    timeline), the notifier (above), shipping (its shipment, above); events of one kind never
    doubled."""
    types = Counter(e.type for e in order.events)
    problems = [f"{order.order_id}: {types[kind]} {kind} events" for kind in ONCE if types[kind] > 1]
    published = sorted(e.id for e in order.events if e.type in ORDER_EVENTS)
    applied = sorted(entry.event_id for entry in order.timeline)
    if applied != published:
        problems.append(f"{order.order_id}: history applied {len(applied)} events of {len(published)} published")
    if shipped(order) and types[EventType.ORDER_SHIPPED] != 1:
        problems.append(f"{order.order_id}: confirmed, {types[EventType.ORDER_SHIPPED]} OrderShipped events")
    return problems


def stock(evidence: Evidence) -> list[str]:
    """Levels never below zero; stock conserved; units sold per SKU equal the lines of the
    shipped orders; nothing reserved but by orders needing attention; the limited SKU sold out
    (or the check proved nothing)."""
    sold, held, problems = _lines(evidence)
    for sku, lowest in evidence.lowest_available.items():
        if lowest < 0:
            problems.append(f"{sku}: available went down to {lowest}")
    for sku, after in evidence.stock_after.items():
        if isinstance(after, str):
            problems.append(f"{sku}: {after}")
            continue
        before = evidence.stock_before[sku]
        if after.available + after.reserved + after.sold != before.available + before.reserved + before.sold:
            problems.append(f"{sku}: stock not conserved {before} -> {after}")
        if after.sold - before.sold != sold[sku]:
            problems.append(f"{sku}: sold {after.sold - before.sold}, the shipped orders hold {sold[sku]}")
        if after.reserved - before.reserved != held[sku]:
            problems.append(f"{sku}: {after.reserved - before.reserved} reserved, held reservations hold {held[sku]}")
    if any(order.placed.planned.limited for order in evidence.orders.values()) and not _sold_out(evidence):
        problems.append(f"{LIMITED_SKU}: never sold out, so overselling could not show")
    return problems


def _lines(evidence: Evidence) -> tuple[Counter[str], Counter[str], list[str]]:
    """Units per SKU in the shipped orders, and in the reservations still held (only an order
    needing attention may hold one: its release is an operator's decision)."""
    sold: Counter[str] = Counter()
    held: Counter[str] = Counter()
    problems = []
    for order in evidence.orders.values():
        if order.order is None:
            continue
        if order.reservation_held and order.order.status is not OrderStatus.NEEDS_ATTENTION:
            problems.append(f"{order.order_id}: {outcome(order.order)}, its stock still reserved")
        for line in order.order.items:
            if shipped(order):
                sold[line.sku] += line.quantity
            elif order.reservation_held:
                held[line.sku] += line.quantity
    return sold, held, problems


def _sold_out(evidence: Evidence) -> bool:
    """Whether an order met the limited SKU sold out (its cancellation names it)."""
    return any(
        LIMITED_SKU in event.data.detail
        for order in evidence.orders.values()
        if order.order is not None and order.order.reason is CancellationReason.OUT_OF_STOCK
        for event in order.events
        if event.type == EventType.ORDER_CANCELLED
    )


def summary(evidence: Evidence) -> Counter[str]:
    """Final outcomes (cancellations by reason)."""
    return Counter(outcome(order.order) if order.order else "NOT STORED" for order in evidence.orders.values())
