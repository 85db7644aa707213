"""Load the committed catalogue into the catalogue table.

Against AWS the table name is read from the stack's `CatalogueTable` output; against a local
endpoint (`--endpoint-url`) pass `--table` or let it find the one table whose name contains
"Catalogue". Re-running it resets prices and stock to the file's values. No custom resource:
seeding is an operator action, not part of every deployment.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import boto3
from pydantic import TypeAdapter

from orderflow.adapters.catalogue import DynamoDbCatalogue
from orderflow.domain.orders import Product

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")


def load_products(path: Path = CATALOGUE_FILE) -> list[Product]:
    return TypeAdapter(list[Product]).validate_python(json.loads(path.read_text()))


def dynamodb_client(endpoint_url: str | None) -> Any:
    """AWS as configured; for a local endpoint, its region and credentials need not be set."""
    if endpoint_url is None:
        return boto3.client("dynamodb")
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
    )


def find_table(stack: str, endpoint_url: str | None) -> str:
    if endpoint_url is None:
        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
        for output in outputs:
            if output["OutputKey"] == "CatalogueTable":
                return str(output["OutputValue"])
        raise SystemExit(f"stack {stack} has no CatalogueTable output; pass --table")
    names = dynamodb_client(endpoint_url).list_tables()["TableNames"]
    matches = [name for name in names if "catalogue" in name.lower()]
    if len(matches) != 1:
        raise SystemExit(f"expected one catalogue table at {endpoint_url}, found {matches}; pass --table")
    return str(matches[0])


def seed(table: str, client: Any | None = None) -> int:
    catalogue = DynamoDbCatalogue(table, client=client if client is not None else boto3.client("dynamodb"))
    products = load_products()
    for product in products:
        catalogue.put(product)
    return len(products)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev", help="the stage whose data stack holds the catalogue")
    parser.add_argument("--table")
    parser.add_argument("--endpoint-url", help="a local endpoint, e.g. http://127.0.0.1:4566")
    arguments = parser.parse_args()
    table = arguments.table or find_table(f"orderflow-{arguments.stage}-data", arguments.endpoint_url)
    count = seed(table, dynamodb_client(arguments.endpoint_url))
    print(f"seeded {count} products into {table}")


if __name__ == "__main__":
    main()
