"""Plain peer of orders-api: GET /products, POST /orders, GET /orders/{id}."""

import json
import os
import time
import uuid
from decimal import Decimal

import boto3

dynamodb = boto3.client("dynamodb")
CATALOGUE, ORDERS, OUTBOX, VIEWS = (
    os.environ[n] for n in ("CATALOGUE_TABLE", "ORDERS_TABLE", "OUTBOX_TABLE", "ORDER_VIEWS_TABLE")
)


def _answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    method, path = event["httpMethod"], event["path"]
    if method == "GET" and path == "/products":
        items = dynamodb.scan(TableName=CATALOGUE)["Items"]
        return _answer(200, [{k: next(iter(v.values())) for k, v in item.items()} for item in items])
    if method == "GET" and path.startswith("/orders/"):
        found = dynamodb.get_item(TableName=ORDERS, Key={"order_id": {"S": path.rsplit("/", 1)[-1]}}).get("Item")
        return (
            _answer(200, {k: next(iter(v.values())) for k, v in found.items()})
            if found
            else _answer(404, {"message": "not found"})
        )
    body = json.loads(event.get("body") or "{}")
    if not body.get("items"):
        return _answer(422, {"message": "items: required"})
    skus = [line["sku"] for line in body["items"]]
    prices = dynamodb.batch_get_item(RequestItems={CATALOGUE: {"Keys": [{"sku": {"S": s}} for s in skus]}})[
        "Responses"
    ][CATALOGUE]
    price = {p["sku"]["S"]: Decimal(p["price"]["N"]) for p in prices}
    total = sum(price[line["sku"]] * line["quantity"] for line in body["items"])
    order_id = str(uuid.uuid4())
    order = {"order_id": {"S": order_id}, "status": {"S": "PENDING"}, "total": {"N": str(total)}}
    event_id = str(uuid.uuid4())
    created = {"id": event_id, "type": "OrderCreated", "subject": order_id, "time": time.time(), "data": body}
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": ORDERS, "Item": order}},
            {
                "Put": {
                    "TableName": OUTBOX,
                    "Item": {"event_id": {"S": event_id}, "envelope": {"S": json.dumps(created, default=str)}},
                }
            },
        ]
    )
    return _answer(202, {"order_id": order_id, "status": "PENDING", "total": str(total)})
