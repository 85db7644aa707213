"""The soak's load: which orders it places (a seeded mix), the stock they meet, and a careful
client placing them through the API at a steady rate.

The mix: mostly good cards (`tok_ok`), some declined and flaky cards, and an order in twenty
asking for more laptop docks than there are. A quarter of the card orders also buy one headset
(`LIMITED_SKU`), whose stock is a twentieth of the orders: it sells out during the run, so
orders end `OUT_OF_STOCK` for real and overselling would show. Every other product has plenty.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from localcloud.cloud import LocalCloud
from orderflow.contracts import Key

PLENTY = 1_000_000  # units of every product but the scarce and the limited one
SCARCE_SKU = "DK-006"  # ordered 99 at a time: always out of stock
LIMITED_SKU = "HS-004"  # stock for a twentieth of the orders: sells out
PLAIN_SKU = "MS-002"
# Payment tokens, and the orders asking for more than there is.
MIX = [("tok_ok", 15), ("tok_declined", 2), ("tok_flaky", 2), ("out_of_stock", 1)]
LIMITED_SHARE = 0.25  # of the card orders, those that also buy one LIMITED_SKU
CUSTOMER_PREFIX = "soak-"  # each order's customer id names its kind: soak-tok_ok


@dataclass(frozen=True)
class Planned:
    """One order of the mix, before it is placed."""

    kind: str  # tok_ok | tok_declined | tok_flaky | out_of_stock
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)
    idempotency_key: str = ""  # drawn from the seed: the same orders (and order ids) every run

    @property
    def token(self) -> str:
        return "tok_ok" if self.kind == "out_of_stock" else self.kind

    @property
    def limited(self) -> bool:
        return any(sku == LIMITED_SKU for sku, _ in self.lines)


@dataclass(frozen=True)
class Placed:
    """An order the API accepted (202), with what was asked."""

    order_id: str
    planned: Planned


def plan_orders(orders: int, seed: int) -> list[Planned]:
    """The mix for `orders` orders; the same seed gives the same list, idempotency keys
    included (so the same order ids, which derive from the customer and the key)."""
    chooser = random.Random(seed)  # noqa: S311 - a test mix
    kinds = chooser.choices([kind for kind, _ in MIX], weights=[weight for _, weight in MIX], k=orders)
    planned = []
    for kind in kinds:
        if kind == "out_of_stock":
            lines: tuple[tuple[str, int], ...] = ((SCARCE_SKU, 99),)
        elif chooser.random() < LIMITED_SHARE:
            lines = ((PLAIN_SKU, 2), (LIMITED_SKU, 1))
        else:
            lines = ((PLAIN_SKU, 2),)
        key = str(uuid.UUID(int=chooser.getrandbits(128), version=4))
        planned.append(Planned(kind=kind, lines=lines, idempotency_key=key))
    return planned


def limited_stock(orders: int) -> int:
    return max(1, orders // 20)


def stock_up(cloud: LocalCloud, orders: int) -> None:
    """Plenty of every product, a twentieth of the orders' worth of the limited one, and the
    scarce one as seeded (fewer than any order of it asks)."""
    dynamodb = cloud.client("dynamodb")
    table = cloud.table_name("Catalogue")
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression=Key.SKU):
        for item in page["Items"]:
            sku = item[Key.SKU]["S"]
            if sku == SCARCE_SKU:
                continue
            units = limited_stock(orders) if sku == LIMITED_SKU else PLENTY
            dynamodb.update_item(
                TableName=table,
                Key={Key.SKU: {"S": sku}},
                UpdateExpression="SET available = :n",
                ExpressionAttributeValues={":n": {"N": str(units)}},
            )


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


def place_all(
    cloud: LocalCloud, planned: list[Planned], *, clients: int, rate: float, say: Callable[[str], None]
) -> list[Placed]:
    pace = Pace(rate)
    placed = 0
    step = max(1, len(planned) // 10)
    counting = threading.Lock()

    def place(order: Planned) -> Placed:
        nonlocal placed
        accepted = Placed(order_id=place_order(cloud, order, pace), planned=order)
        with counting:
            placed += 1
            if placed % step == 0:
                say(f"  placed {placed}")
        return accepted

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(place, planned))


RETRY_SECONDS = 300  # how long a client keeps trying one order


def place_order(cloud: LocalCloud, order: Planned, pace: Pace) -> str:
    """POST /orders like a careful client: one idempotency key, retried on 5xx, 429 and 409 (a
    request still in progress: the function failed mid-way and its lock expires with the
    function's timeout) for up to `RETRY_SECONDS`. With faults on, one request's attempts can
    fail several times in a row, each leaving the lock for a function timeout (20 s): a minute
    was seen not to be enough for one order in a thousand."""
    body = {
        "customer_id": f"{CUSTOMER_PREFIX}{order.kind}",
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in order.lines],
        "currency": "EUR",
        "payment_token": order.token,
    }
    headers = {"Idempotency-Key": order.idempotency_key or str(uuid.uuid4())}
    pace.wait()
    deadline = time.monotonic() + RETRY_SECONDS
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
