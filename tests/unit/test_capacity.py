"""The local cloud's estimate of DynamoDB request units, as on-demand tables bill them."""

from __future__ import annotations

from localcloud.capacity import item_size, units


def _item(payload_bytes: int) -> dict[str, dict[str, str]]:
    return {"order_id": {"S": "o-1"}, "body": {"S": "x" * payload_bytes}}


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"id": {"S": "abc"}, "n": {"N": "1234"}}) == (2 + 3) + (1 + 3)


def test_writes_cost_a_unit_per_started_kb_and_double_in_a_transaction() -> None:
    assert units("PutItem", {"TableName": "t", "Item": _item(1500)}, {}) == {"t": (2, 0)}
    assert units("UpdateItem", {"TableName": "t", "Key": {}}, {}) == {"t": (1, 0)}
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "orders", "Item": _item(100)}},
            {"Update": {"TableName": "stock", "Key": {}}},
            {"Put": {"TableName": "outbox", "Item": _item(1500)}},
        ]
    }
    assert units("TransactWriteItems", transaction, {}) == {"orders": (2, 0), "stock": (2, 0), "outbox": (4, 0)}


def test_reads_cost_per_started_4_kb_half_when_eventually_consistent() -> None:
    assert units("GetItem", {"TableName": "t", "ConsistentRead": True}, {"Item": _item(5000)}) == {"t": (0, 2)}
    assert units("GetItem", {"TableName": "t"}, {}) == {"t": (0, 0.5)}  # nothing found: the minimum
    batch = {"RequestItems": {"t": {"Keys": [], "ConsistentRead": True}}}
    assert units("BatchGetItem", batch, {"Responses": {"t": [_item(10), _item(10)]}}) == {"t": (0, 2)}
