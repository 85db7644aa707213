"""The event backbone: the SNS FIFO topic and the EventBridge bus with its archive (data stack),
and the outbox relay that is the only publisher to both (app stack)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_xray as xray
from constructs import Construct

from infra.components.messaging import failure_destination
from infra.components.runtime import Layers, OrderflowFunction
from infra.components.security import LogGroups
from infra.settings import OrderflowSettings
from orderflow.contracts import Env


class EventBackbone(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        topic_key: kms.IKey,
        settings: OrderflowSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "OrderEvents",
            fifo=True,
            # Deduplication and throughput per message group (order), not per topic.
            fifo_throughput_scope=sns.FifoThroughputScope.MESSAGE_GROUP,
            content_based_deduplication=False,
            master_key=topic_key,
            enforce_ssl=True,
            display_name="orderflow order events",
            tracing_config=sns.TracingConfig.ACTIVE,
        )
        # Subscribers know it by its ARN: a replaced topic would lose every subscription.
        self.topic.apply_removal_policy(RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY)
        # SNS delivers its trace segments to X-Ray only if X-Ray's resource policy lets it (SNS:
        # "Active tracing in Amazon SNS"): scoped to the order-events topic of this account.
        stack = Stack.of(self)
        xray.CfnResourcePolicy(
            self,
            "TopicTracing",
            policy_name=f"{settings.prefix}-sns-tracing",
            policy_document=stack.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SnsTopicsOfThisAccount",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": ["xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": stack.account},
                                "ArnLike": {"aws:SourceArn": self.topic.topic_arn},
                            },
                        }
                    ],
                }
            ),
        )
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{settings.prefix}-events")
        # Only this account puts events on the bus (Security Hub EventBridge.3).
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PutEventsFromThisAccountOnly",
                principals=[iam.AccountPrincipal(stack.account)],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
            )
        )
        self.archive = self.bus.archive(
            "Archive",
            description="Every orderflow event, for replay",
            event_pattern=events.EventPattern(account=[stack.account]),
            retention=Duration.days(settings.archive_retention_days),
        )
        if settings.retain_data:  # the archive holds every event; the bus it belongs to stays with it
            for resource in (self.bus, self.archive):
                resource.apply_removal_policy(RemovalPolicy.RETAIN)
        # Stream batches that still fail after bisecting and retrying are recorded here
        # (a stream failure destination must be a standard queue).
        self.relay_failures = failure_destination(self, "RelayFailures", key=key, settings=settings)


class OutboxRelay(Construct):
    """Publishes the outbox table's stream to the topic and the bus (`functions/outbox_relay`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        backbone: EventBackbone,
        outbox: dynamodb.ITable,
        layers: Layers,
        log_groups: LogGroups,
        settings: OrderflowSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        topic, bus = backbone.topic, backbone.bus
        self.relay = OrderflowFunction(
            self,
            "Relay",
            name="outbox_relay",
            description="Publishes outbox records to the order-events topic and the event bus",
            layers=layers,
            settings=settings.function,
            log_groups=log_groups,
            environment={Env.ORDER_EVENTS_TOPIC_ARN: topic.topic_arn, Env.EVENT_BUS_NAME: bus.event_bus_name},
        )
        self.relay.alias.add_event_source(
            sources.DynamoEventSource(
                outbox,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=settings.relay.batch_size,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=settings.relay.retry_attempts,
                max_record_age=Duration.hours(settings.relay.max_record_age_hours),
                on_failure=sources.SqsDlq(backbone.relay_failures),
                # The relay publishes INSERTs only; TTL removals never invoke it.
                filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})],
            )
        )
        topic.grant_publish(self.relay.function)
        bus.grant_put_events_to(self.relay.function)
