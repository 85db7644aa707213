"""The alert topic: where alarms, `LowStock` and `SystemAlert`s go, and who hears them.

A topic policy written by the stack replaces SNS's default one (which lets the account's own
services publish), so each publisher needs its own grant: CloudWatch alarms publish through a
statement scoped to this account's alarms, EventBridge rules through a role (`authorize_using_role`
on the rule target). The topic is encrypted with a customer-managed key, so each publishing
service also needs `kms:GenerateDataKey*` and `kms:Decrypt` on that key (AWS: "Enable
compatibility between event sources from AWS services and encrypted topics").
"""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.settings import AlertSettings

CLOUDWATCH = "cloudwatch.amazonaws.com"
# What an AWS service needs of a key to publish to a topic encrypted with it.
PUBLISH_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class AlertTopic(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, settings: AlertSettings, retain: bool
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(self, "Topic", display_name="orderflow alerts", master_key=key, enforce_ssl=True)
        # Its subscriptions are confirmed by people: it stays with the data stack's other resources.
        self.topic.apply_removal_policy(RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        key.grant(iam.ServicePrincipal(CLOUDWATCH), *PUBLISH_KEY_ACTIONS)
        for address in settings.emails:
            if not _EMAIL.match(address):
                raise ValueError(f"alert_email: {address!r} is not an e-mail address")
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        for url in settings.urls:
            if not url.startswith("https://"):
                raise ValueError(f"alert_url: {url!r} must be an https:// URL (alerts are not sent in clear text)")
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
