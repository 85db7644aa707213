"""Plain peer of payments: ProcessPayment -> the gateway -> the saga's task token."""

import json
import os
import uuid

import boto3

dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")
PAYMENTS, LEDGER = os.environ["PAYMENTS_TABLE"], os.environ["LEDGER_TABLE"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            command = json.loads(record["body"])
            data, order_id = command["data"], command["subject"]
            sfn.send_task_heartbeat(taskToken=data["task_token"])
            if data["payment_token"] == "tok_declined":
                sfn.send_task_failure(taskToken=data["task_token"], error="PaymentDeclined", cause="card_declined")
                continue
            payment_id = "pay_" + uuid.uuid4().hex[:16]
            dynamodb.put_item(
                TableName=LEDGER, Item={"key": {"S": "charge#" + order_id}, "payment_id": {"S": payment_id}}
            )
            dynamodb.put_item(TableName=PAYMENTS, Item={"order_id": {"S": order_id}, "status": {"S": "PAID"}})
            sfn.send_task_success(taskToken=data["task_token"], output=json.dumps({"payment_id": payment_id}))
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
