"""The orderflow stack: composes the constructs and grants access between them."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.components.alerting import AlertTopic
from infra.components.api import OrdersApi
from infra.components.backbone import EventBackbone
from infra.components.fulfilment import Fulfilment
from infra.components.messaging import ConsumerBase, QueueConsumer
from infra.components.monitoring import Monitoring
from infra.components.runtime import Layers, OrderflowFunction
from infra.components.security import DataKeys, LogGroups, grant_table
from infra.components.tables import Tables
from infra.settings import OrderflowSettings
from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS, Env

IDEMPOTENCY_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


class OrderflowStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: OrderflowSettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        keys = DataKeys(self, "Keys", retain=settings.retain_data)
        key = keys.data
        log_groups = LogGroups(self, key=key, retention=settings.log_retention, retain=settings.retain_data)
        tables = Tables(self, "Tables", key=key, retain=settings.retain_data)
        layers = Layers(self, "Layers")
        self.backbone = backbone = EventBackbone(
            self,
            "Backbone",
            outbox=tables.outbox,
            key=key,
            topic_key=keys.topic,
            layers=layers,
            log_groups=log_groups,
            settings=settings,
        )

        api_function = OrderflowFunction(
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
        ).function
        grant_table(tables.catalogue, api_function, "BatchGetItem", "Scan")
        grant_table(tables.orders, api_function, "PutItem", "GetItem")
        grant_table(tables.outbox, api_function, "PutItem")
        grant_table(tables.order_views, api_function, "Query")
        grant_table(tables.idempotency, api_function, *IDEMPOTENCY_ACTIONS)
        self.api = api = OrdersApi(
            self,
            "OrdersApi",
            handler=api_function,
            settings=settings.api,
            log_groups=log_groups,
        )

        consumers = ConsumerBase.of(settings, key=key, layers=layers, log_groups=log_groups)
        history = QueueConsumer(
            self,
            "OrderHistory",
            name="history_projector",
            description="Projects order events into the order read model",
            event_types=ORDER_EVENTS,
            environment={Env.ORDER_VIEWS_TABLE: tables.order_views.table_name},
            topic=backbone.topic,
            base=consumers,
        )
        grant_table(tables.order_views, history.function, "Query", "PutItem")

        notifications = QueueConsumer(
            self,
            "Notifications",
            name="notifier",
            description="Notifies customers of confirmed, cancelled and shipped orders",
            event_types=CUSTOMER_FACING_EVENTS,
            environment={
                Env.NOTIFICATIONS_TABLE: tables.notifications.table_name,
                Env.IDEMPOTENCY_TABLE: tables.idempotency.table_name,
                Env.IDEMPOTENCY_TTL_SECONDS: str(settings.idempotency_ttl_seconds),
            },
            topic=backbone.topic,
            base=consumers,
        )
        grant_table(tables.notifications, notifications.function, "PutItem")
        grant_table(tables.idempotency, notifications.function, *IDEMPOTENCY_ACTIONS)

        self.alerts = AlertTopic(self, "Alerts", key=keys.topic, settings=settings.alerts).topic
        self.fulfilment = Fulfilment(
            self,
            "Fulfilment",
            tables=tables,
            key=key,
            layers=layers,
            topic=backbone.topic,
            bus=backbone.bus,
            alerts=self.alerts,
            log_groups=log_groups,
            consumers=consumers,
            settings=settings,
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            api=api.api,
            relay=backbone.relay.function,
            state_machine=self.fulfilment.saga.state_machine,
            failure_queues=[backbone.relay_failures, self.fulfilment.rule_failures],
            alerts=self.alerts,
            payment_path=[self.fulfilment.payments.function, self.fulfilment.refund],
            settings=settings.monitoring,
        )

        CfnOutput(self, "ApiUrl", value=api.api.url)
        CfnOutput(self, "ApiKeyId", value=api.api_key.key_id)
        CfnOutput(self, "CatalogueTable", value=tables.catalogue.table_name)
        CfnOutput(self, "OrderEventsTopic", value=backbone.topic.topic_arn)
        CfnOutput(self, "EventBus", value=backbone.bus.event_bus_name)
        CfnOutput(self, "StateMachine", value=self.fulfilment.saga.state_machine.state_machine_arn)
        CfnOutput(self, "AlertTopic", value=self.alerts.topic_arn)
