"""Plain peer of order-steps: confirm, cancel or flag an order."""

import json
import os
import uuid

import boto3

dynamodb = boto3.client("dynamodb")
ORDERS, OUTBOX = os.environ["ORDERS_TABLE"], os.environ["OUTBOX_TABLE"]
STATUS = {"confirm": "CONFIRMED", "cancel": "CANCELLED", "flag": "NEEDS_ATTENTION"}


def handler(event, context):
    order_id, status = event["saga"]["order_id"], STATUS[event["step"]]
    announced = {"id": str(uuid.uuid4()), "type": "Order" + status.title(), "subject": order_id}
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": ORDERS,
                    "Key": {"order_id": {"S": order_id}},
                    "UpdateExpression": "SET #s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": status}},
                }
            },
            {
                "Put": {
                    "TableName": OUTBOX,
                    "Item": {"event_id": {"S": announced["id"]}, "envelope": {"S": json.dumps(announced)}},
                }
            },
        ]
    )
    return {"status": status}
