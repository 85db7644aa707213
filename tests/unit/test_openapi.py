from __future__ import annotations

import json

from functions.orders_api.openapi import DOCUMENT, generate


def test_committed_openapi_document_matches_the_code() -> None:
    # `make openapi` regenerates it; a route or model change without it fails here.
    assert DOCUMENT.read_text() == generate()


def test_openapi_document_describes_the_three_routes() -> None:
    paths = json.loads(DOCUMENT.read_text())["paths"]

    assert set(paths) == {"/products", "/orders", "/orders/{order_id}"}
    assert "post" in paths["/orders"]
    assert "get" in paths["/orders/{order_id}"]
