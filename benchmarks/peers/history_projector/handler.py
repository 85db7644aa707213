"""Plain peer of history-projector: order events -> timeline entries and the order summary."""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
VIEWS = os.environ["ORDER_VIEWS_TABLE"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            envelope = json.loads(record["body"])
            order_id = envelope["subject"]
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": VIEWS,
                            "Item": {
                                "order_id": {"S": order_id},
                                "sk": {"S": "EVENT#" + envelope["id"]},
                                "type": {"S": envelope["type"]},
                            },
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": VIEWS,
                            "Key": {"order_id": {"S": order_id}, "sk": {"S": "SUMMARY"}},
                            "UpdateExpression": "SET last_type = :t",
                            "ExpressionAttributeValues": {":t": {"S": envelope["type"]}},
                        }
                    },
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException:
            continue  # already applied
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
