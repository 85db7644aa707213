"""Plain peer of notifier: customer-facing events -> one notification each."""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
NOTIFICATIONS = os.environ["NOTIFICATIONS_TABLE"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            envelope = json.loads(record["body"])
            dynamodb.put_item(
                TableName=NOTIFICATIONS,
                Item={
                    "order_id": {"S": envelope["subject"]},
                    "notification_id": {"S": envelope["id"]},
                    "about": {"S": envelope["type"]},
                },
                ConditionExpression="attribute_not_exists(notification_id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
