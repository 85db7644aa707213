"""Small helpers over the low-level DynamoDB client (typed attribute values in and out)."""

from __future__ import annotations

from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def dynamodb_client(client: Any | None = None) -> Any:
    return client if client is not None else boto3.client("dynamodb")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values (str, int, Decimal, bool, list, dict, None) to DynamoDB attribute values."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def cancellation_codes(error: Any) -> list[str]:
    """The per-item reason codes of a `TransactionCanceledException` ('None' where an item passed)."""
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code", "None") for reason in reasons]


def is_error(error: Exception, code: str) -> bool:
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == code
