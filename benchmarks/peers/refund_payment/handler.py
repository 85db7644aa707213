"""Plain peer of refund-payment: refund an order's payment, once."""

import os

import boto3

dynamodb = boto3.client("dynamodb")
PAYMENTS, LEDGER = os.environ["PAYMENTS_TABLE"], os.environ["LEDGER_TABLE"]


def handler(event, context):
    order_id = event["saga"]["order_id"]
    payment = dynamodb.get_item(TableName=PAYMENTS, Key={"order_id": {"S": order_id}}).get("Item")
    if not payment or payment["status"]["S"] != "PAID":
        return {"refunded": False}
    dynamodb.update_item(
        TableName=LEDGER,
        Key={"key": {"S": "charge#" + order_id}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "REFUNDED"}},
    )
    dynamodb.update_item(
        TableName=PAYMENTS,
        Key={"order_id": {"S": order_id}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "REFUNDED"}},
    )
    return {"refunded": True}
