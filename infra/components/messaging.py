"""Queues with secure, reliable defaults, and the consumers built on them: a FIFO subscriber of the
topic, or a standard queue a rule delivers to (`QueueConsumer`, `ConsumerBase`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.runtime import Layers, OrderflowFunction
from infra.components.security import LogGroups
from infra.settings import ConsumerSettings, OrderflowSettings
from orderflow.contracts import Env, MessageAttribute


def secure_queue(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    fifo: bool,
    retention: Duration | None = None,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    retain: bool = False,
) -> sqs.Queue:
    """KMS with the data key, TLS-only policy, and for FIFO per-message-group throughput.
    `retain`: the queue outlives its stack with what is in it (the data stack's queues in a stage
    that keeps its data)."""
    return sqs.Queue(
        scope,
        construct_id,
        fifo=fifo or None,
        # High-throughput FIFO: deduplication and throughput quota per order, not per queue.
        deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP if fifo else None,
        fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID if fifo else None,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.minutes(15),
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )


def failure_destination(
    scope: Construct, construct_id: str, *, key: kms.IKey, settings: OrderflowSettings
) -> sqs.Queue:
    """A standard queue that keeps records of what failed (a stream's on-failure destination, a
    rule target's dead-letter queue): as long as a DLQ keeps messages, kept with the data."""
    return secure_queue(
        scope,
        construct_id,
        key=key,
        fifo=False,
        retention=Duration.days(settings.dlq_retention_days),
        retain=settings.retain_data,
    )


@dataclass(frozen=True, kw_only=True)
class ConsumerBase:
    """What every consumer function shares: the layers, the consumer settings, the log groups."""

    layers: Layers
    settings: ConsumerSettings
    log_groups: LogGroups

    @classmethod
    def of(cls, settings: OrderflowSettings, *, layers: Layers, log_groups: LogGroups) -> ConsumerBase:
        return cls(layers=layers, settings=settings.consumer, log_groups=log_groups)


class ConsumerQueue(Construct):
    """A queue with its dead-letter queue, in the data stack: FIFO by default, subscribed to the
    topic for some event types; without a topic it is a command queue (other components send to
    it); `fifo=False` for work whose order does not matter (SQS then scales delivery out without
    message groups). Its consumer (`QueueConsumer`) lives in the app stack.

    Adding a consumer is this construct, a `QueueConsumer` of it and a handler in `functions/<name>/`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        settings: OrderflowSettings,
        topic: sns.ITopic | None = None,
        event_types: Sequence[str] = (),
        fifo: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        if topic is not None and not fifo:
            raise ValueError(f"{construct_id}: the order-events topic is FIFO, so its subscribers' queues are FIFO")
        self.event_types = tuple(event_types)
        self.dead_letter_queue = secure_queue(
            self,
            "DeadLetterQueue",
            key=key,
            fifo=fifo,
            retention=Duration.days(settings.dlq_retention_days),
            retain=settings.retain_data,
        )
        consumer = settings.consumer
        self.queue = secure_queue(
            self,
            "Queue",
            key=key,
            fifo=fifo,
            # AWS: at least 6x the function timeout, so a batch being retried after throttling
            # is not made visible again while a slow invocation still holds it.
            visibility_timeout=Duration.seconds(6 * consumer.function.timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=consumer.max_receive_count
            ),
            retain=settings.retain_data,
        )
        if topic is not None:
            self._subscribe(topic)

    def _subscribe(self, topic: sns.ITopic) -> None:
        topic.add_subscription(
            subscriptions.SqsSubscription(
                self.queue,
                raw_message_delivery=True,
                filter_policy={
                    MessageAttribute.EVENT_TYPE: sns.SubscriptionFilter.string_filter(allowlist=list(self.event_types))
                },
                # Deliveries SNS cannot make to the queue land beside the consumer's failures.
                dead_letter_queue=self.dead_letter_queue,
            )
        )


class QueueConsumer(Construct):
    """A function consuming a `ConsumerQueue` with partial batch responses; a message no retry can
    fix goes straight to the queue's DLQ, with the reason (orderflow.batch)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        queues: ConsumerQueue,
        base: ConsumerBase,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = base.settings
        self.queue, self.dead_letter_queue = queues.queue, queues.dead_letter_queue
        self.consumer = OrderflowFunction(
            self,
            "Consumer",
            name=name,
            description=description,
            layers=base.layers,
            settings=settings.function,
            log_groups=base.log_groups,
            environment={**(environment or {}), Env.DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url},
        )
        self.function = self.consumer.function
        self.dead_letter_queue.grant_send_messages(self.function)
        self.consumer.alias.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=settings.batch_size,
                report_batch_item_failures=True,
                max_concurrency=settings.maximum_concurrency,
            )
        )
