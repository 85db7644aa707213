"""Small helpers over the low-level DynamoDB client (typed attribute values in and out)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from orderflow.adapters.clients import shared_client

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def dynamodb_client(client: Any | None = None) -> Any:
    return client if client is not None else shared_client("dynamodb")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values (str, int, Decimal, bool, list, dict, None) to DynamoDB attribute values."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


BATCH_GET_LIMIT = 100


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], *, consistent: bool = True) -> list[dict[str, Any]]:
    """Every item of `keys` that exists (plain Python values), in chunks of 100 and retrying
    what DynamoDB leaves unprocessed."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        chunk = [to_item(key) for key in keys[start : start + BATCH_GET_LIMIT]]
        request: dict[str, Any] = {table: {"Keys": chunk, "ConsistentRead": consistent}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            found.extend(from_item(item) for item in answer["Responses"].get(table, []))
            request = answer.get("UnprocessedKeys") or {}
    return found


def put(table: str, item: dict[str, Any], condition: str | None = None, **expression: Any) -> dict[str, Any]:
    """A `Put` for a transaction (values are plain Python; names and values of the condition in
    `expression` as `names=` / `values=`)."""
    request: dict[str, Any] = {"TableName": table, "Item": to_item(item)}
    if condition:
        request["ConditionExpression"] = condition
    if expression.get("names"):
        request["ExpressionAttributeNames"] = expression["names"]
    if expression.get("values"):
        request["ExpressionAttributeValues"] = to_item(expression["values"])
    return {"Put": request}
