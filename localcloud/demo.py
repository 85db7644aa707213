"""`make demo`: a scripted scenario through the local cloud's HTTP API, then a summary.

Every path of the order lifecycle: orders that ship, a flaky gateway retried, out of stock,
a declined card, a payment gateway outage that opens the circuit and closes again, and a
compensation that fails; plus a request repeated with one Idempotency-Key, bad input and a
poison message. It waits until every order is terminal, prints what happened and checks the
invariants, and exits non-zero when anything is not as it should be.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from localcloud.api_client import Answer
from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from localcloud.faults import Fault
from localcloud.state import dead_letters, messages_per_queue, short
from orderflow.adapters.dynamodb import from_item
from orderflow.adapters.payment_gateway import SimulatedGateway

TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}
POISON_GROUP = "poison-demo"


def _order(customer: str, token: str, *lines: tuple[str, int], currency: str = "EUR") -> dict[str, Any]:
    items = [{"sku": sku, "quantity": quantity} for sku, quantity in lines]
    return {"customer_id": customer, "items": items, "currency": currency, "payment_token": token}


# (what it shows, the order, expected status, expected reason)
PATHS = [
    ("happy path", _order("ada", "tok_ok", ("KB-001", 1)), "SHIPPED", None),
    ("two lines, in USD", _order("linus", "tok_ok", ("WC-007", 1), ("SP-008", 2), currency="USD"), "SHIPPED", None),
    ("flaky gateway, retried", _order("grace", "tok_flaky", ("MN-003", 1)), "SHIPPED", None),
    ("out of stock", _order("alan", "tok_ok", ("DK-006", 50)), "CANCELLED", "OUT_OF_STOCK"),
    ("card declined", _order("barbara", "tok_declined", ("HS-004", 2)), "CANCELLED", "PAYMENT_DECLINED"),
]
OUTAGE = [
    (
        "provider fails this card: cancelled at the deadline",
        _order("edsger", "tok_unavailable", ("CB-005", 1)),
        "CANCELLED",
        "PAYMENT_UNAVAILABLE",
    ),
    ("during a 15 s outage: waits, then ships", _order("ken", "tok_ok", ("CB-005", 1)), "SHIPPED", None),
]
OUTAGE_SECONDS = 15
BROKEN_COMPENSATION = (
    "a compensation fails",
    _order("margaret", "tok_declined", ("MS-002", 1)),
    "NEEDS_ATTENTION",
    None,
)
BAD_INPUT = [
    ("missing customer_id", {"items": [{"sku": "KB-001", "quantity": 1}], "currency": "EUR", "payment_token": "t"}),
    ("quantity 0", _order("ada", "tok_ok", ("KB-001", 0))),
    ("unknown sku", _order("ada", "tok_ok", ("NOPE-404", 1))),
    ("client-supplied price", {**_order("ada", "tok_ok", ("KB-001", 1)), "total": "0.01"}),
    ("not JSON", b"{not json"),
]


class Demo:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.problems: list[str] = []
        self.expected: dict[str, tuple[str, str, str | None]] = {}  # order id -> (label, status, reason)
        self.seeded = self._stock()

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)
            print(f"  !! {problem}")

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return self.cloud.api.request(method, path, body, headers)

    def place(
        self, label: str, order: dict[str, Any], status: str, reason: str | None, headers: dict[str, str] | None = None
    ) -> str:
        answer = self.api("POST", "/orders", order, headers)
        self.expect(answer.status == 202, f"{label}: POST /orders answered {answer.status}: {answer.body}")
        order_id = str(answer.body["order_id"])
        self.expected[order_id] = (label, status, reason)
        print(f"  202 {order_id}  {label}: {answer.body['total']} {order['currency']} ({order['payment_token']})")
        return order_id

    def run(self) -> int:
        products = self.api("GET", "/products")
        self.expect(products.status == 200 and len(products.body) > 0, f"GET /products answered {products.status}")
        print(f"\n== catalogue: {len(products.body)} products")

        print("\n== orders, one per path of the saga")
        self.journey = f"demo-journey-{time.time_ns()}"
        for index, (label, order, status, reason) in enumerate(PATHS):
            self.place(label, order, status, reason, {"X-Correlation-Id": self.journey} if index == 0 else None)

        print("\n== the same request twice, with one Idempotency-Key")
        key = {"Idempotency-Key": f"demo-{time.time_ns()}"}
        first = self.api("POST", "/orders", PATHS[0][1], key)
        again = self.api("POST", "/orders", PATHS[0][1], key)
        self.expect(first.body == again.body, "the repeated request created a second order")
        print(f"  {first.status} then {again.status}, one order: {again.body['order_id']}")
        self.expected[first.body["order_id"]] = ("idempotent repeat", "SHIPPED", None)

        print("\n== bad input: 4xx naming the field, nothing written")
        for label, body in BAD_INPUT:
            answer = self.api("POST", "/orders", body)
            self.expect(400 <= answer.status < 500, f"{label}: answered {answer.status}")
            errors = answer.body.get("errors", []) if isinstance(answer.body, dict) else []
            named = ", ".join(f"{error['field']}: {error['problem']}" for error in errors)
            print(f"  {answer.status} {label:<22} {named}")
        self.expect(self.api("GET", "/orders/no-such-order").status == 404, "an unknown order did not answer 404")

        print("\n== a poison message, straight onto the order-history queue")
        history = self.cloud.queue_url("OrderHistoryQueue")
        self.cloud.client("sqs").send_message(
            QueueUrl=history,
            MessageBody="{this is not an event",
            MessageGroupId=POISON_GROUP,
            MessageDeduplicationId=f"poison-{time.time_ns()}",
        )
        self._wait(list(self.expected))

        print("\n== payment provider outage: payments wait for the provider, until the order's deadline")
        self.cloud.runtime.faults.set([Fault(kind="outage", target="gateway", seconds=999.9, every=1000)])
        try:
            waiting = self.place(*OUTAGE[1])
            print(f"  the provider is down for {OUTAGE_SECONDS}s: its circuit opens, the order waits")
            time.sleep(OUTAGE_SECONDS)
        finally:
            self.cloud.runtime.clear_faults()
        print("  the provider is back: the order is charged and ships")
        self._wait([waiting], timeout=120)
        print("  a card the provider fails on every time: tried again until the deadline (60 s locally)")
        self._wait([self.place(*OUTAGE[0])], timeout=120)

        print("\n== a compensation that fails (release-inventory made to fail)")
        release = self.cloud.function_name("FulfilmentReleaseInventory")
        self.cloud.runtime.inject_fault(release, "ServiceUnavailable", "inventory store unreachable (injected)")
        try:
            self._wait([self.place(*BROKEN_COMPENSATION)])
        finally:
            self.cloud.runtime.clear_faults()

        self._summary()
        return 1 if self.problems else 0

    def _wait(self, order_ids: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            views = [self.api("GET", f"/orders/{order_id}").body for order_id in order_ids]
            poisoned = any(letter.group == POISON_GROUP for letter in dead_letters(self.cloud))
            if all(view.get("status") in TERMINAL for view in views) and poisoned:
                return
            time.sleep(0.3)
        self.expect(False, "orders did not reach a terminal status in time")

    def _summary(self) -> None:
        print("\n== summary")
        views = {order_id: self.api("GET", f"/orders/{order_id}").body for order_id in self.expected}
        statuses = Counter(view.get("status", "?") for view in views.values())
        print("  orders by status: " + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
        for order_id, view in views.items():
            label, status, reason = self.expected[order_id]
            timeline = " > ".join(entry["type"] for entry in view.get("timeline", []))
            outcome = f"{view.get('status')}" + (f"({view['reason']})" if view.get("reason") else "")
            print(f"    {label:<38} {outcome:<30} {timeline}")
            self.expect(
                (view.get("status"), view.get("reason")) == (status, reason),
                f"{label}: {outcome}, expected {status}" + (f"({reason})" if reason else ""),
            )
        print("  messages received per queue (deliveries, retries included):")
        for queue, count in sorted(messages_per_queue(self.cloud).items()):
            print(f"    {queue}: {count}")
        letters = dead_letters(self.cloud)
        print(f"  dead-letter queues: {len(letters)} message(s)")
        for letter in letters:
            print(f"    {letter.queue}: {short(letter.body)!r} group={letter.group} deliveries={letter.deliveries}")
            print(f"      reason: {letter.reason}")
        self.expect([letter.group for letter in letters] == [POISON_GROUP], "dead letters other than the poison")
        self._alarms()
        self._invariants(views)
        self._journey()
        print("  " + "\n  ".join(self.cloud.access.summary()))
        self.expect(not self.cloud.access.denials, "a call or delivery was denied: the template lacks a permission")
        print("\n" + ("OK: every check passed" if not self.problems else f"FAILED: {len(self.problems)} problem(s)"))

    def _alarms(self) -> None:
        """The alarms the run set off, and their notifications to the alert topic: the poison
        message's DLQ and the provider outage's open circuit must have alarmed."""
        cloudwatch = self.cloud.cloudwatch
        fired = {
            name: state
            for name, state in cloudwatch.states.items()
            if any(new == "ALARM" for _, _, new in state.changes)
        }
        print(f"  alarms that went to ALARM: {len(fired)} (CloudWatch's periods 60 times shorter locally)")
        for name, state in sorted(fired.items()):
            sent = [n for n in cloudwatch.notifications if n["alarm"] == name]
            delivered = sum(1 for n in sent if n["delivered"])
            print(f"    {name}: now {state.value}; {delivered} of {len(sent)} notification(s) sent to the alert topic")
            self.expect(delivered == len(sent), f"{name}: a notification was not published")
        dlq = self.cloud.queue_url("OrderHistoryDeadLetterQueue").rsplit("/", 1)[-1]
        watched = {alarm.name: alarm.metric for alarm in cloudwatch.alarms.values()}
        self.expect(
            any(("QueueName", dlq) in watched[name][2] for name in fired), "the poison's DLQ alarm never went to ALARM"
        )
        self.expect(any(watched[name][1] == "PaymentCircuitOpened" for name in fired), "the open circuit never alarmed")

    def _invariants(self, views: dict[str, Any]) -> None:
        stock = self._stock()
        drift = {
            sku: (sum(self.seeded[sku].values()), sum(levels.values()))
            for sku, levels in stock.items()
            if sum(self.seeded[sku].values()) != sum(levels.values())
        }
        self.expect(drift == {}, f"stock not conserved (available + reserved + sold): {drift}")
        gateway = SimulatedGateway(self.cloud.table_name("PaymentLedger"), client=self.cloud.client("dynamodb"))
        charged = sum((entry.moved for entry in gateway.entries()), Decimal(0))
        confirmed = sum((Decimal(v["total"]) for v in views.values() if v.get("status") == "SHIPPED"), Decimal(0))
        self.expect(charged == confirmed, f"paid - refunded = {charged}, confirmed orders total {confirmed}")
        print(f"  invariants: stock conserved for {len(stock)} skus; paid - refunded = {charged} = confirmed totals")

    def _journey(self) -> None:
        """The happy-path order's whole journey: every log line with its correlation id."""
        print(f"\n== one order's journey, by correlation id {self.journey}")
        lines = [
            entry
            for _, entry in list(self.cloud.activity.logs)
            if isinstance(entry, dict) and entry.get("correlation_id") == self.journey and "_aws" not in entry
        ]
        for entry in sorted(lines, key=lambda line: str(line.get("timestamp"))):
            print(f"  {str(entry.get('timestamp'))[11:23]}  {entry.get('service', '?'):<18} {entry.get('message')}")
        services = {entry.get("service") for entry in lines}
        self.expect(
            len(services) >= 9, f"the journey shows only {len(services)} functions: {sorted(map(str, services))}"
        )

    def _stock(self) -> dict[str, dict[str, int]]:
        items = self.cloud.client("dynamodb").scan(TableName=self.cloud.table_name("Catalogue"))["Items"]
        return {
            item["sku"]: {key: int(item.get(key, 0)) for key in ("available", "reserved", "sold")}
            for item in map(from_item, items)
        }


def main() -> int:
    started = time.monotonic()
    print("starting the local cloud (synth, moto, provisioning, function workers)...")
    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        cloud.seed()
        print(f"ready in {time.monotonic() - started:.1f}s: API {cloud.api.url}, AWS endpoint {cloud.endpoint}")
        code = Demo(cloud).run()
    print(f"demo finished in {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
