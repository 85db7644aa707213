"""The catalogue (inventory table): products with their price, currency and available stock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from orderflow.adapters.dynamodb import dynamodb_client, from_item, to_item
from orderflow.contracts import Key
from orderflow.domain.orders import Product

_BATCH_GET_LIMIT = 100


class Catalogue(Protocol):
    def get_many(self, skus: Iterable[str]) -> dict[str, Product]: ...

    def list_all(self) -> list[Product]: ...


class DynamoDbCatalogue:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = dynamodb_client(client)

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = sorted(set(skus))
        found: dict[str, Product] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            keys = [to_item({Key.SKU: sku}) for sku in wanted[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table, []):
                    product = Product.model_validate(from_item(item))
                    found[product.sku] = product
                request = answer.get("UnprocessedKeys") or {}
        return found

    def list_all(self) -> list[Product]:
        paginator = self._client.get_paginator("scan")
        products = [
            Product.model_validate(from_item(item))
            for page in paginator.paginate(TableName=self._table)
            for item in page["Items"]
        ]
        return sorted(products, key=lambda product: product.sku)

    def put(self, product: Product) -> None:
        """Create or replace a product (used by the seeding tool)."""
        self._client.put_item(TableName=self._table, Item=to_item(product.model_dump()))
