"""The customer-managed KMS key for data at rest, and least-privilege table grants."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataKey(Construct):
    """One rotating CMK encrypting the topic, queues and tables of the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="orderflow data at rest: topic, queues, tables",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly `actions` on the table (not its indexes), plus use of the table's key."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=[f"dynamodb:{action}" for action in actions], resource_arns=[table.table_arn]
    )
    if table.encryption_key is not None:
        table.encryption_key.grant_encrypt_decrypt(grantee)
