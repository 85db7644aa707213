"""DynamoDB request units a call consumes, estimated from the request and the answer the way
on-demand tables bill them (moto does not report consumed capacity):

- a write: 1 write request unit per started KB of the item (the item as written for `Put`, at
  least 1 for `Update`, `Delete` and a `ConditionCheck`); in a transaction, twice that;
- a read: 1 read request unit per started 4 KB of each item returned when strongly consistent,
  half that when eventually consistent; in a transaction, twice the strongly consistent figure;
  a read that finds nothing still costs its minimum.

Item size follows DynamoDB's rule: attribute names plus values (strings by their UTF-8 length,
numbers about one byte per two digits, plus containers' overheads).
"""

from __future__ import annotations

import math
from typing import Any

KB = 1024
READ_BLOCK = 4 * KB


def value_size(value: dict[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind in ("S", "B"):
        return len(content.encode() if isinstance(content, str) else content)
    if kind == "N":
        return len(content.strip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(inner) + 1 for name, inner in content.items())
    if kind == "L":
        return 3 + sum(value_size(inner) + 1 for inner in content)
    return sum(len(str(member)) for member in content)  # the set types


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _write_units(request: dict[str, Any]) -> float:
    return max(1, math.ceil(item_size(request["Item"]) / KB)) if "Item" in request else 1


def _read_units(items: list[dict[str, Any]], consistent: bool) -> float:
    blocks = max(1, math.ceil(sum(item_size(item) for item in items) / READ_BLOCK))
    return blocks if consistent else blocks / 2


def units(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Table name -> (write request units, read request units) one DynamoDB call consumed."""
    consumed: dict[str, tuple[float, float]] = {}

    def add(table: str, write: float, read: float) -> None:
        before = consumed.get(table, (0.0, 0.0))
        consumed[table] = (before[0] + write, before[1] + read)

    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        add(params["TableName"], _write_units(params), 0.0)
    elif operation == "TransactWriteItems":
        for entry in params["TransactItems"]:
            request = next(iter(entry.values()))
            add(request["TableName"], 2 * _write_units(request), 0.0)
    elif operation == "BatchWriteItem":
        for table, entries in params["RequestItems"].items():
            for entry in entries:
                add(table, _write_units(next(iter(entry.values()))), 0.0)
    elif operation == "GetItem":
        found = [answer["Item"]] if "Item" in answer else []
        add(params["TableName"], 0.0, _read_units(found, params.get("ConsistentRead", False)))
    elif operation == "BatchGetItem":
        for table, request in params["RequestItems"].items():
            found = answer.get("Responses", {}).get(table, [])
            consistent = request.get("ConsistentRead", False)
            add(table, 0.0, sum(_read_units([item], consistent) for item in found) or _read_units([], consistent))
    elif operation in ("Query", "Scan"):
        add(params["TableName"], 0.0, _read_units(answer.get("Items", []), params.get("ConsistentRead", False)))
    elif operation == "TransactGetItems":
        for entry, response in zip(params["TransactItems"], answer.get("Responses", []), strict=False):
            found = [response["Item"]] if "Item" in response else []
            add(entry["Get"]["TableName"], 0.0, 2 * _read_units(found, True))
    return consumed
