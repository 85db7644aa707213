"""Plain peer of shipping: OrderConfirmed -> a shipment and OrderShipped in the outbox."""

import json
import os
import uuid

import boto3

dynamodb = boto3.client("dynamodb")
SHIPMENTS, OUTBOX = os.environ["SHIPMENTS_TABLE"], os.environ["OUTBOX_TABLE"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            confirmed = json.loads(record["body"])
            order_id = confirmed["subject"]
            shipped = {"id": str(uuid.uuid4()), "type": "OrderShipped", "subject": order_id}
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": SHIPMENTS,
                            "Item": {"order_id": {"S": order_id}},
                            "ConditionExpression": "attribute_not_exists(order_id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": OUTBOX,
                            "Item": {"event_id": {"S": shipped["id"]}, "envelope": {"S": json.dumps(shipped)}},
                        }
                    },
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException:
            continue
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
