"""Customer-managed KMS keys for data at rest, encrypted log groups, and least-privilege table
grants."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
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


class LogGroups:
    """How every log group of the stack is made: its retention, encrypted with the data key, and
    kept with the stack's data when the stack is deleted (`retain`)."""

    def __init__(self, scope: Construct, *, key: kms.IKey, retention: logs.RetentionDays, retain: bool) -> None:
        stack = Stack.of(scope)
        self._key = key
        self._retention = retention
        self._removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        # CloudWatch Logs encrypts with the key only if the key policy lets the regional service
        # use it for this account's log groups (CloudWatch Logs: "Encrypt log data using AWS KMS").
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )

    def create(self, scope: Construct, construct_id: str, *, name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=name,
            retention=self._retention,
            encryption_key=self._key,
            removal_policy=self._removal,
        )


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly `actions` on the table (not its indexes), plus use of the table's key."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=[f"dynamodb:{action}" for action in actions], resource_arns=[table.table_arn]
    )
    if table.encryption_key is not None:
        table.encryption_key.grant_encrypt_decrypt(grantee)
