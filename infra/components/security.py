"""The customer-managed KMS key for data at rest, and least-privilege table grants."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataKeys(Construct):
    """Rotating customer-managed keys for data at rest: one for the tables and queues, one for
    the topic. Two, because a queue subscribed to the topic gets a key-policy statement that
    names the topic (SNS may decrypt only for that topic): with one key, the key would depend
    on the topic and the topic on the key, a cycle CloudFormation refuses."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.data = kms.Key(
            self, "Data", description="orderflow tables and queues", enable_key_rotation=True, removal_policy=removal
        )
        self.topic = kms.Key(
            self, "Topic", description="orderflow order-events topic", enable_key_rotation=True, removal_policy=removal
        )


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly `actions` on the table (not its indexes), plus use of the table's key."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=[f"dynamodb:{action}" for action in actions], resource_arns=[table.table_arn]
    )
    if table.encryption_key is not None:
        table.encryption_key.grant_encrypt_decrypt(grantee)
