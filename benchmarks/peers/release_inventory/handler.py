"""Plain peer of release-inventory: move an order's units between stock buckets, with its reservation."""

import os

import boto3

dynamodb = boto3.client("dynamodb")
CATALOGUE, RESERVATIONS = os.environ["CATALOGUE_TABLE"], os.environ["RESERVATIONS_TABLE"]
FROM, TO = "reserved", "available"


def handler(event, context):
    saga = event["saga"]
    items = [
        {
            "Update": {
                "TableName": CATALOGUE,
                "Key": {"sku": {"S": line["sku"]}},
                "UpdateExpression": f"SET {FROM} = {FROM} - :n, {TO} = {TO} + :n",
                "ConditionExpression": f"{FROM} >= :n",
                "ExpressionAttributeValues": {":n": {"N": str(line["quantity"])}},
            }
        }
        for line in saga["stock_lines"]
    ]
    items.append(
        {"Put": {"TableName": RESERVATIONS, "Item": {"order_id": {"S": saga["order_id"]}, "status": {"S": TO.upper()}}}}
    )
    dynamodb.transact_write_items(TransactItems=items)
    return {"order_id": saga["order_id"], "status": TO.upper()}
