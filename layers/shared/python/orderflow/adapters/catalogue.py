"""The catalogue (inventory table): products with their price, currency and available stock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from orderflow.adapters.dynamodb import batch_get, dynamodb_client, from_item, to_item
from orderflow.contracts import Key
from orderflow.domain.orders import Product


class Catalogue(Protocol):
    def get_many(self, skus: Iterable[str]) -> dict[str, Product]: ...

    def list_all(self) -> list[Product]: ...


class DynamoDbCatalogue:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = dynamodb_client(client)

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        keys = [{Key.SKU: sku} for sku in sorted(set(skus))]
        products = (Product.model_validate(item) for item in batch_get(self._client, self._table, keys))
        return {product.sku: product for product in products}

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
