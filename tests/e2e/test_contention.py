"""Contention is not failure, through the whole local cloud: every DynamoDB transaction any
function sends meets a `TransactionConflict` on its first attempt, and every order still ends
for its real reason, with its stock and its charge accounted for once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from localcloud import moto_fixes
from localcloud.cloud import LocalCloud
from localcloud.faults import Fault
from tests.e2e.saga_support import (
    conserved,
    ledger,
    no_saga_running,
    place,
    saga_outcome,
    stock,
    types,
    view_showing,
    wait_terminal,
)

# Every function that writes through a unit of work, by the start of its logical id.
TRANSACTIONAL = (
    "OrdersApiFunction",
    "FulfilmentReserveInventory",
    "FulfilmentPaymentsConsumer",
    "FulfilmentOrderSteps",
    "FulfilmentReleaseInventory",
    "FulfilmentShippingConsumer",
    "OrderHistoryConsumer",
)


def test_every_transaction_meeting_a_conflict_changes_no_outcome(cloud: LocalCloud) -> None:
    no_saga_running(cloud)
    before = stock(cloud)
    cloud.runtime.faults.set([Fault(kind="conflict", target="dynamodb", rate=1.0)])
    try:
        shipped = place(cloud, "tok_ok", [{"sku": "CB-005", "quantity": 2}])
        declined = place(cloud, "tok_declined", [{"sku": "CB-005", "quantity": 1}])
        too_many = place(cloud, "tok_ok", [{"sku": "DK-006", "quantity": 4}])
        final = wait_terminal(cloud, shipped, declined, too_many, timeout=120)
        for order_id in (shipped, declined, too_many):
            saga_outcome(cloud, order_id, timeout=60)
        view_showing(cloud, shipped, "OrderShipped")
        conflicts = dict(cloud.runtime.faults.injected_by_function["dynamodb_conflict"])
    finally:
        cloud.runtime.clear_faults()

    assert final[shipped]["status"] == "SHIPPED"
    assert (final[declined]["status"], final[declined]["reason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert (final[too_many]["status"], final[too_many]["reason"]) == ("CANCELLED", "OUT_OF_STOCK")
    assert types(final[declined]).count("InventoryReleased") == 1
    after = stock(cloud)
    assert conserved(before, after) == {}
    assert after["CB-005"]["sold"] - before["CB-005"]["sold"] == 2
    assert after["CB-005"]["reserved"] == before["CB-005"]["reserved"]
    charges = ledger(cloud)
    assert (charges[shipped]["status"], Decimal(str(charges[shipped]["amount"]))) == ("CHARGED", Decimal("19.80"))
    assert declined not in charges or charges[declined].get("status") != "CHARGED"
    met = {prefix for prefix in TRANSACTIONAL if any(function.startswith(prefix) for function in conflicts)}
    assert met == set(TRANSACTIONAL), conflicts


def test_two_orders_for_the_last_units_at_the_same_moment_ship_exactly_one(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A product with two units left, two orders for both at once: the reservations race on one
    stock item (each transaction holding it longer than usual, so they overlap and conflict as
    on DynamoDB), the conflict is retried, not taken for an outcome, and exactly one order ships;
    nothing is oversold."""
    from infra.seed.__main__ import load_products
    from orderflow.adapters.catalogue import DynamoDbCatalogue

    sku = f"LAST-{uuid.uuid4().hex[:6].upper()}"
    template = load_products()[0]
    catalogue = DynamoDbCatalogue(str(cloud.deployment.outputs["CatalogueTable"]), client=cloud.client("dynamodb"))
    catalogue.put(template.model_copy(update={"sku": sku, "available": 2}))
    monkeypatch.setattr(moto_fixes, "TRANSACTION_PREPARE_SECONDS", 0.2)
    no_saga_running(cloud)

    with ThreadPoolExecutor(max_workers=2) as pool:
        orders = list(pool.map(lambda _: place(cloud, "tok_ok", [{"sku": sku, "quantity": 2}]), range(2)))
    final = wait_terminal(cloud, *orders, timeout=120)

    outcomes = sorted((view["status"], view.get("reason")) for view in final.values())
    assert outcomes == [("CANCELLED", "OUT_OF_STOCK"), ("SHIPPED", None)]
    assert stock(cloud)[sku] == {"available": 0, "reserved": 0, "sold": 2}
