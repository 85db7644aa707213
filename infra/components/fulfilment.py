"""Fulfilment: the saga's task functions, the payments service and its command queue, the
OrderFulfillment state machine, the EventBridge rules that start it and watch stock, and
shipping. Its queues and the saga's log group are in the data stack (`FulfilmentQueues`), the
rest in the app stack (`Fulfilment`).

No function here is invoked asynchronously: EventBridge invokes a Lambda target asynchronously,
and an event whose function keeps failing is dropped after Lambda's retries unless the
function has an on-failure destination. The OrderCreated rule targets a queue instead, whose
consumer starts the saga: a start that keeps failing stays in that queue's DLQ, alarmed and
redrivable, and never leaves an order PENDING unseen."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.messaging import ConsumerBase, ConsumerQueue, QueueConsumer, failure_destination
from infra.components.runtime import Layers, OrderflowFunction
from infra.components.saga import FulfilmentSaga
from infra.components.security import LogGroups, grant_table
from infra.components.tables import Tables
from infra.settings import OrderflowSettings
from orderflow.contracts import Env, EventSource, EventType
from orderflow.events.models import LowStock

STOCK_ACTIONS = ("BatchGetItem", "UpdateItem")
RECORD_ACTIONS = ("GetItem", "PutItem")
CIRCUIT_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


class FulfilmentQueues(Construct):
    """What fulfilment keeps: the payment command queue, the saga-start queue (the OrderCreated
    rule's target), shipping's subscription, the rules' dead-letter queue, the saga's log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        bus: events.IEventBus,
        log_groups: LogGroups,
        settings: OrderflowSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.payments = ConsumerQueue(self, "Payments", key=key, settings=settings)
        # A start is idempotent on the order id: order does not matter.
        self.saga_starts = ConsumerQueue(self, "SagaStarts", key=key, settings=settings, fifo=False)
        self.shipping = ConsumerQueue(
            self, "Shipping", key=key, settings=settings, topic=topic, event_types=[EventType.ORDER_CONFIRMED]
        )
        # Events the rule targets could not take after retries are kept here. The rules are in the
        # app stack: the queue lets any rule of the bus send (a statement naming each rule would
        # make this stack depend on the app stack, which depends on this one).
        self.rule_failures = failure_destination(self, "RuleFailures", key=key, settings=settings)
        stack = Stack.of(self)
        self.rule_failures.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RulesOfTheBus",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.rule_failures.queue_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/{bus.event_bus_name}/*"
                        )
                    }
                },
            )
        )
        # Step Functions delivers logs as a vended log source: under /aws/vendedlogs/ its resource
        # policy stays within CloudWatch Logs' size limit however many state machines log
        # (Step Functions: "Logging using CloudWatch Logs"). Named, so it stays with the data.
        self.saga_logs = log_groups.create(
            Construct(self, "Saga"), "Logs", name=f"/aws/vendedlogs/states/{settings.prefix}-order-fulfillment"
        )


class Fulfilment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: Tables,
        queues: FulfilmentQueues,
        layers: Layers,
        bus: events.IEventBus,
        alerts: sns.ITopic,
        log_groups: LogGroups,
        consumers: ConsumerBase,
        settings: OrderflowSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_groups = log_groups
        self._layers = layers
        self._settings = settings
        outbox: dict[str, str] = {
            Env.OUTBOX_TABLE: tables.outbox.table_name,
            Env.OUTBOX_RETENTION_DAYS: str(settings.outbox_retention_days),
        }
        inventory_env: dict[str, str] = {
            **outbox,
            Env.CATALOGUE_TABLE: tables.catalogue.table_name,
            Env.RESERVATIONS_TABLE: tables.reservations.table_name,
        }
        provider, ledger = settings.payments, tables.ledger
        payments_env: dict[str, str] = {
            **outbox,
            Env.PAYMENTS_TABLE: tables.payments.table_name,
            Env.PAYMENT_PROVIDER: provider.provider,
            **(
                {Env.PAYMENT_PROVIDER_URL: provider.url, Env.PAYMENT_PROVIDER_SECRET_ARN: provider.secret_arn}
                if ledger is None
                else {Env.LEDGER_TABLE: ledger.table_name}
            ),
            Env.IDEMPOTENCY_TABLE: tables.idempotency.table_name,
            Env.CIRCUIT_FAILURE_THRESHOLD: str(settings.saga.circuit_failure_threshold),
            Env.CIRCUIT_RECOVERY_SECONDS: str(settings.saga.circuit_recovery_seconds),
        }

        def grant_inventory(function: lambda_.IFunction) -> None:
            grant_table(tables.catalogue, function, *STOCK_ACTIONS)
            grant_table(tables.reservations, function, *RECORD_ACTIONS)
            grant_table(tables.outbox, function, "PutItem")

        def grant_payments(function: lambda_.IFunction) -> None:
            grant_table(tables.payments, function, *RECORD_ACTIONS)
            grant_table(tables.outbox, function, "PutItem")
            if ledger is None:  # the provider's API key, and nothing else in Secrets Manager
                iam.Grant.add_to_principal(
                    grantee=function, actions=["secretsmanager:GetSecretValue"], resource_arns=[provider.secret_arn]
                )
            else:
                grant_table(ledger, function, "GetItem", "PutItem", "UpdateItem")

        reserve = self._function("reserve_inventory", "Saga: reserves stock for an order", inventory_env)
        release = self._function("release_inventory", "Saga: releases an order's reserved stock", inventory_env)
        refund = self._function("refund_payment", "Saga: refunds an order's payment", payments_env)
        order_steps = self._function(
            "order_steps",
            "Saga: confirms, cancels or flags an order",
            {**inventory_env, Env.ORDERS_TABLE: tables.orders.table_name},
        )
        for task in (reserve, release, order_steps):
            grant_inventory(task.function)
        grant_table(tables.orders, order_steps.function, *RECORD_ACTIONS)
        grant_payments(refund.function)

        self.payments = QueueConsumer(
            self,
            "Payments",
            queues=queues.payments,
            name="payments",
            description="Charges orders through the payment gateway and answers the saga",
            base=consumers,
            environment={**payments_env, Env.ORDERS_TABLE: tables.orders.table_name},
        )
        grant_payments(self.payments.function)
        grant_table(tables.orders, self.payments.function, "GetItem")  # a late answer: is the order settled?
        grant_table(tables.idempotency, self.payments.function, *CIRCUIT_ACTIONS)

        self.refund = refund.function
        # The saga invokes each task's `live` alias.
        self.task_functions = (reserve.alias, release.alias, refund.alias, order_steps.alias)
        self.saga = FulfilmentSaga(
            self,
            "Saga",
            reserve_inventory=reserve.alias,
            release_inventory=release.alias,
            refund_payment=refund.alias,
            order_steps=order_steps.alias,
            payment_commands=self.payments.queue,
            settings=settings.saga,
            log_group=queues.saga_logs,
        )
        self.saga.state_machine.grant_task_response(self.payments.function)

        self.saga_starts = QueueConsumer(
            self,
            "SagaStarts",
            queues=queues.saga_starts,
            name="saga_starter",
            description="Starts the fulfilment saga for each OrderCreated (execution name = order id)",
            base=consumers,
            environment={
                Env.STATE_MACHINE_ARN: self.saga.state_machine.state_machine_arn,
                Env.PAYMENT_DEADLINE_SECONDS: str(settings.saga.payment_deadline_seconds),
            },
        )
        self.saga.state_machine.grant_start_execution(self.saga_starts.function)
        # The rules' dead-letter queue, as the app stack sees it: imported, so CDK adds no
        # statement naming each rule to its policy (the data stack allows the bus's rules).
        self.rule_failures = sqs.Queue.from_queue_attributes(
            self,
            "RuleFailures",
            queue_arn=queues.rule_failures.queue_arn,
            queue_url=queues.rule_failures.queue_url,
            key_arn=queues.rule_failures.encryption_master_key.key_arn
            if queues.rule_failures.encryption_master_key
            else None,
        )
        self.order_created_rule = events.Rule(
            self,
            "StartSaga",
            event_bus=bus,
            description="OrderCreated starts the fulfilment saga",
            event_pattern=events.EventPattern(source=[EventSource.ORDERS], detail_type=[EventType.ORDER_CREATED]),
            targets=[
                targets.SqsQueue(
                    self.saga_starts.queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                    dead_letter_queue=self.rule_failures,
                )
            ],
        )

        threshold = settings.saga.low_stock_threshold
        self.low_stock_rule = events.Rule(
            self,
            "LowStock",
            event_bus=bus,
            description=f"InventoryUpdated with fewer than {threshold} available -> LowStock alert",
            event_pattern=events.EventPattern(
                source=[EventSource.INVENTORY],
                detail_type=[EventType.INVENTORY_UPDATED],
                detail={"data": {"available": events.Match.less_than(threshold)}},
            ),
            targets=[
                targets.SnsTopic(
                    alerts,
                    # A role scoped to this topic, not a topic-policy statement any rule could use.
                    authorize_using_role=True,
                    message=events.RuleTargetInput.from_object(
                        LowStock.template(
                            source=EventSource.INVENTORY,
                            id=events.EventField.event_id,
                            subject=events.EventField.from_path("$.detail.subject"),
                            time=events.EventField.time,
                            correlation_id=events.EventField.from_path("$.detail.correlation_id"),
                            causation_id=events.EventField.from_path("$.detail.id"),
                            sequence=0,
                            data={
                                "sku": events.EventField.from_path("$.detail.data.sku"),
                                "available": events.EventField.from_path("$.detail.data.available"),
                                "threshold": threshold,
                            },
                        )
                    ),
                    retry_attempts=8,
                    dead_letter_queue=self.rule_failures,
                )
            ],
        )

        self.shipping = QueueConsumer(
            self,
            "Shipping",
            queues=queues.shipping,
            name="shipping",
            description="Ships confirmed orders",
            base=consumers,
            environment={**outbox, Env.SHIPMENTS_TABLE: tables.shipments.table_name},
        )
        grant_table(tables.shipments, self.shipping.function, "PutItem")
        grant_table(tables.outbox, self.shipping.function, "PutItem")

    def _function(self, name: str, description: str, environment: Mapping[str, str]) -> OrderflowFunction:
        construct_id = "".join(part.title() for part in name.split("_"))
        return OrderflowFunction(
            self,
            construct_id,
            name=name,
            description=description,
            layers=self._layers,
            settings=self._settings.function,
            log_groups=self._log_groups,
            environment=environment,
        )
