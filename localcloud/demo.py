"""`make demo`: a scripted scenario through the local cloud's HTTP API, then a summary.

Several orders, a request repeated with the same Idempotency-Key, bad input, and a poison
message put straight onto a consumer queue. It waits until every order has reached the read
model and the poison message its dead-letter queue, prints what happened, and exits non-zero
when anything is not as it should be.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from localcloud.api_client import Answer, call
from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from localcloud.state import dead_letters, messages_per_queue, short

ORDERS = [
    {"customer_id": "ada", "items": [{"sku": "KB-001", "quantity": 1}], "currency": "EUR", "payment_token": "tok_ok"},
    {
        "customer_id": "grace",
        "items": [{"sku": "MN-003", "quantity": 2}, {"sku": "CB-005", "quantity": 3}],
        "currency": "EUR",
        "payment_token": "tok_ok",
    },
    {"customer_id": "linus", "items": [{"sku": "WC-007", "quantity": 1}], "currency": "USD", "payment_token": "tok_ok"},
]
BAD_INPUT = [
    ("missing customer_id", {"items": [{"sku": "KB-001", "quantity": 1}], "currency": "EUR", "payment_token": "t"}),
    ("quantity 0", {**ORDERS[0], "items": [{"sku": "KB-001", "quantity": 0}]}),
    ("unknown sku", {**ORDERS[0], "items": [{"sku": "NOPE-404", "quantity": 1}]}),
    ("client-supplied price", {**ORDERS[0], "total": "0.01"}),
    ("not JSON", b"{not json"),
]
POISON_GROUP = "poison-demo"


class Demo:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.problems: list[str] = []

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)
            print(f"  !! {problem}")

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return call(self.cloud.api.url, method, path, body, headers)

    def run(self) -> int:
        print("\n== catalogue")
        products = self.api("GET", "/products")
        self.expect(products.status == 200 and len(products.body) > 0, f"GET /products answered {products.status}")
        print(f"  {len(products.body)} products, e.g. {products.body[0]['sku']} at {products.body[0]['price']}")

        print("\n== orders")
        order_ids = []
        for order in ORDERS:
            answer = self.api("POST", "/orders", order)
            self.expect(answer.status == 202, f"POST /orders answered {answer.status}: {answer.body}")
            order_ids.append(answer.body["order_id"])
            print(f"  202 {answer.body['order_id']} {order['customer_id']}: {answer.body['total']} {order['currency']}")

        print("\n== the same request twice, with one Idempotency-Key")
        key = {"Idempotency-Key": f"demo-{time.time_ns()}"}
        first = self.api("POST", "/orders", ORDERS[0], key)
        again = self.api("POST", "/orders", ORDERS[0], key)
        self.expect(first.body == again.body, "the repeated request created a second order")
        print(f"  {first.status} then {again.status}, one order: {again.body['order_id']}")
        order_ids.append(first.body["order_id"])

        print("\n== bad input (nothing is written)")
        for label, body in BAD_INPUT:
            answer = self.api("POST", "/orders", body)
            self.expect(400 <= answer.status < 500, f"{label}: answered {answer.status}")
            errors = answer.body.get("errors", []) if isinstance(answer.body, dict) else []
            named = ", ".join(f"{error['field']}: {error['problem']}" for error in errors)
            print(f"  {answer.status} {label:<22} {named}")
        unknown = self.api("GET", "/orders/no-such-order")
        self.expect(unknown.status == 404, f"unknown order answered {unknown.status}")

        print("\n== a poison message, straight onto the order-history queue")
        history = self.cloud.queue_url("OrderHistoryQueue")
        self.cloud.client("sqs").send_message(
            QueueUrl=history,
            MessageBody="{this is not an event",
            MessageGroupId=POISON_GROUP,
            MessageDeduplicationId="poison-1",
        )
        print(f"  sent to {history.rsplit('/', 1)[-1]} (group {POISON_GROUP})")

        print("\n== waiting for the flow to settle")
        started = time.monotonic()
        views = self._wait_for(order_ids)
        print(f"  settled in {time.monotonic() - started:.1f}s")
        self._summary(order_ids, views)
        return 1 if self.problems else 0

    def _wait_for(self, order_ids: list[str], timeout: float = 40.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        views: dict[str, Any] = {}
        while time.monotonic() < deadline:
            views = {order_id: self.api("GET", f"/orders/{order_id}").body for order_id in order_ids}
            projected = all(view.get("timeline") for view in views.values())
            poisoned = any(letter.group == POISON_GROUP for letter in dead_letters(self.cloud))
            if projected and poisoned:
                return views
            time.sleep(0.5)
        self.expect(False, "the flow did not settle in time")
        return views

    def _summary(self, order_ids: list[str], views: dict[str, Any]) -> None:
        print("\n== summary")
        statuses = Counter(view.get("status", "?") for view in views.values())
        print("  orders by status: " + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
        for order_id, view in views.items():
            timeline = " > ".join(entry["type"] for entry in view.get("timeline", []))
            print(f"    {order_id}  {view.get('status')}  {view.get('total')} {view.get('currency')}  [{timeline}]")
            self.expect(bool(timeline), f"order {order_id} never reached the read model")
        stored = self.cloud.client("dynamodb").scan(TableName=self._table("Orders"), Select="COUNT")["Count"]
        self.expect(stored == len(order_ids), f"{stored} orders stored for {len(order_ids)} accepted requests")
        print(f"  orders stored: {stored} (for {len(order_ids)} distinct accepted requests)")
        print("  messages received per queue (deliveries, retries included):")
        for queue, count in sorted(messages_per_queue(self.cloud).items()):
            print(f"    {queue}: {count}")
        letters = dead_letters(self.cloud)
        print(f"  dead-letter queues: {len(letters)} message(s)")
        for letter in letters:
            print(f"    {letter.queue}: {short(letter.body)!r} group={letter.group} deliveries={letter.deliveries}")
            print(f"      reason: {letter.reason}")
        poison = [letter for letter in letters if letter.group == POISON_GROUP]
        self.expect(len(poison) == 1, "the poison message is not in its dead-letter queue")
        self.expect(all(letter.group == POISON_GROUP for letter in letters), "a real event was dead-lettered")
        self.expect(
            all(letter.reason != "no failure recorded" for letter in letters), "a dead letter has no recorded reason"
        )
        print("\n" + ("OK: every check passed" if not self.problems else f"FAILED: {len(self.problems)} problem(s)"))

    def _table(self, logical_prefix: str) -> str:
        tables = self.cloud.deployment.of_type("AWS::DynamoDB::Table")
        (match,) = [lid for lid in tables if lid.startswith(f"Tables{logical_prefix}")]
        return str(self.cloud.deployment.value(match))


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
