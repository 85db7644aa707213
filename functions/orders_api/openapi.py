"""Generates the orders API's OpenAPI document from the resolver's routes and models.

`python -m functions.orders_api.openapi --write` (`make openapi`) rewrites the committed
`openapi.json`; without `--write` it exits 1 when the committed file is out of date.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from orderflow.contracts import Env

DOCUMENT = Path(__file__).with_name("openapi.json")


def generate() -> str:
    # The handler module wires its adapters at import; the names only need to exist here.
    for name in Env:
        if name.endswith(("_TABLE", "_ARN", "_NAME")):
            os.environ.setdefault(name, "openapi")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from functions.orders_api.handler import app

    return (
        app.get_openapi_json_schema(
            title="orderflow orders API",
            version="1.0.0",
            description="Catalogue, order intake and order status. Every call needs the `x-api-key` header.",
            security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
            security=[{"apiKey": []}],
        )
        + "\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    document = generate()
    if parser.parse_args().write:
        DOCUMENT.write_text(document)
        print(f"wrote {DOCUMENT}")
    elif not DOCUMENT.exists() or DOCUMENT.read_text() != document:
        print(f"{DOCUMENT} is out of date: run `make openapi`", file=sys.stderr)
        sys.exit(1)
