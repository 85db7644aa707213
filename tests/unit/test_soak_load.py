"""The soak's load: a seeded mix of orders, with a product that sells out."""

from __future__ import annotations

from collections import Counter

from localcloud.soak.load import LIMITED_SKU, SCARCE_SKU, limited_stock, plan_orders


def test_a_seed_gives_the_same_orders_and_keys() -> None:
    assert plan_orders(200, seed=7) == plan_orders(200, seed=7)
    assert plan_orders(200, seed=7) != plan_orders(200, seed=8)
    assert len({order.idempotency_key for order in plan_orders(200, seed=7)}) == 200


def test_the_mix_has_every_kind_and_more_demand_for_the_limited_product_than_stock() -> None:
    orders = plan_orders(1000, seed=7)
    kinds = Counter(order.kind for order in orders)
    wanted = sum(quantity for order in orders for sku, quantity in order.lines if sku == LIMITED_SKU)

    assert set(kinds) == {"tok_ok", "tok_declined", "tok_flaky", "out_of_stock"}
    assert kinds["tok_ok"] > 600
    assert wanted > 2 * limited_stock(1000)
    assert all(order.lines == ((SCARCE_SKU, 99),) for order in orders if order.kind == "out_of_stock")
    assert all(order.token == "tok_ok" for order in orders if order.kind == "out_of_stock")
