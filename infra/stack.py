"""orderflow's two stacks per stage: what holds data, and what runs on it.

`DataStack` holds the data and what routes it: the keys, the tables, the order-events topic, the
bus and its archive, every queue with its dead-letter queue and subscription, the alert topic
(its subscriptions are confirmed by people), the saga's log group. In a stage that keeps its data
it has termination protection and every resource in it is retained. `AppStack` holds what runs:
functions, the API, the state machine, rules, dashboards and alarms; it can be destroyed and
deployed again freely, and changes often. The app stack reads the data stack's resources through
CloudFormation exports (CDK makes them), so the data stack deploys first and its exports stay
while the app stack imports them.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.components.alerting import AlertTopic
from infra.components.api import OrdersApi
from infra.components.backbone import EventBackbone, OutboxRelay
from infra.components.fulfilment import Fulfilment, FulfilmentQueues
from infra.components.messaging import ConsumerBase, ConsumerQueue, QueueConsumer
from infra.components.monitoring import Monitoring
from infra.components.rollout import Rollouts
from infra.components.runtime import Layers, OrderflowFunction
from infra.components.security import DataKeys, LogGroups, grant_table
from infra.components.tables import Tables
from infra.settings import OrderflowSettings
from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS, Env

IDEMPOTENCY_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: OrderflowSettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, termination_protection=settings.retain_data, **kwargs)  # type: ignore[arg-type]
        self.keys = keys = DataKeys(self, "Keys", retain=settings.retain_data)
        self.log_groups = LogGroups(self, key=keys.data, retention=settings.log_retention, retain=settings.retain_data)
        self.tables = Tables(
            self,
            "Tables",
            key=keys.data,
            retain=settings.retain_data,
            simulated_provider=settings.payments.provider == "simulated",
        )
        self.backbone = backbone = EventBackbone(
            self, "Backbone", key=keys.data, topic_key=keys.topic, settings=settings
        )
        self.history = ConsumerQueue(
            self, "OrderHistory", key=keys.data, settings=settings, topic=backbone.topic, event_types=ORDER_EVENTS
        )
        self.notifications = ConsumerQueue(
            self,
            "Notifications",
            key=keys.data,
            settings=settings,
            topic=backbone.topic,
            event_types=CUSTOMER_FACING_EVENTS,
        )
        self.alerts = AlertTopic(
            self, "Alerts", key=keys.topic, settings=settings.alerts, retain=settings.retain_data
        ).topic
        self.fulfilment = FulfilmentQueues(
            self,
            "Fulfilment",
            key=keys.data,
            topic=backbone.topic,
            bus=backbone.bus,
            log_groups=self.log_groups,
            settings=settings,
        )
        CfnOutput(self, "CatalogueTable", value=self.tables.catalogue.table_name)
        CfnOutput(self, "OrderEventsTopic", value=backbone.topic.topic_arn)
        CfnOutput(self, "EventBus", value=backbone.bus.event_bus_name)
        CfnOutput(self, "AlertTopic", value=self.alerts.topic_arn)


class AppStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataStack, settings: OrderflowSettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        tables, log_groups = data.tables, data.log_groups
        layers = Layers(self, "Layers")
        self.relay = OutboxRelay(
            self,
            "Backbone",
            backbone=data.backbone,
            outbox=tables.outbox,
            layers=layers,
            log_groups=log_groups,
            settings=settings,
        )

        api = OrderflowFunction(
            self,
            "OrdersApiFunction",
            name="orders_api",
            description="Orders API: catalogue, order intake, order status",
            layers=layers,
            settings=settings.function,
            log_groups=log_groups,
            environment={
                Env.ORDERS_TABLE: tables.orders.table_name,
                Env.OUTBOX_TABLE: tables.outbox.table_name,
                Env.CATALOGUE_TABLE: tables.catalogue.table_name,
                Env.ORDER_VIEWS_TABLE: tables.order_views.table_name,
                Env.IDEMPOTENCY_TABLE: tables.idempotency.table_name,
                Env.IDEMPOTENCY_TTL_SECONDS: str(settings.idempotency_ttl_seconds),
                Env.OUTBOX_RETENTION_DAYS: str(settings.outbox_retention_days),
                Env.MAX_BODY_BYTES: str(settings.api.max_body_bytes),
            },
        )
        api_function = api.function
        grant_table(tables.catalogue, api_function, "BatchGetItem", "Scan")
        grant_table(tables.orders, api_function, "PutItem", "GetItem")
        grant_table(tables.outbox, api_function, "PutItem")
        grant_table(tables.order_views, api_function, "Query")
        grant_table(tables.idempotency, api_function, *IDEMPOTENCY_ACTIONS)
        self.api = orders_api = OrdersApi(
            self,
            "OrdersApi",
            handler=api.alias,
            settings=settings.api,
            log_groups=log_groups,
            prefix=settings.prefix,
        )

        consumers = ConsumerBase.of(settings, layers=layers, log_groups=log_groups)
        history = QueueConsumer(
            self,
            "OrderHistory",
            queues=data.history,
            name="history_projector",
            description="Projects order events into the order read model",
            environment={Env.ORDER_VIEWS_TABLE: tables.order_views.table_name},
            base=consumers,
        )
        grant_table(tables.order_views, history.function, "Query", "PutItem")

        notifications = QueueConsumer(
            self,
            "Notifications",
            queues=data.notifications,
            name="notifier",
            description="Notifies customers of confirmed, cancelled and shipped orders",
            environment={
                Env.NOTIFICATIONS_TABLE: tables.notifications.table_name,
                Env.IDEMPOTENCY_TABLE: tables.idempotency.table_name,
                Env.IDEMPOTENCY_TTL_SECONDS: str(settings.idempotency_ttl_seconds),
            },
            base=consumers,
        )
        grant_table(tables.notifications, notifications.function, "PutItem")
        grant_table(tables.idempotency, notifications.function, *IDEMPOTENCY_ACTIONS)

        self.fulfilment = Fulfilment(
            self,
            "Fulfilment",
            tables=tables,
            queues=data.fulfilment,
            layers=layers,
            bus=data.backbone.bus,
            alerts=data.alerts,
            log_groups=log_groups,
            consumers=consumers,
            settings=settings,
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            api=orders_api.api,
            relay=self.relay.relay.function,
            state_machine=self.fulfilment.saga.state_machine,
            failure_queues=[data.backbone.relay_failures, data.fulfilment.rule_failures],
            alerts=data.alerts,
            payment_path=[self.fulfilment.payments.function, self.fulfilment.refund],
            settings=settings.monitoring,
            prefix=settings.prefix,
        )

        if settings.production:  # a change reaches a tenth of the traffic first, and goes back on an alarm
            Rollouts(self, "Rollouts", monitoring=self.monitoring, prefix=settings.prefix)

        CfnOutput(self, "ApiUrl", value=orders_api.api.url)
        CfnOutput(self, "ApiKeyId", value=orders_api.api_key.key_id)
        CfnOutput(self, "StateMachine", value=self.fulfilment.saga.state_machine.state_machine_arn)
