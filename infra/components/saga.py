"""The OrderFulfillment saga: a Step Functions Standard workflow that reserves stock, takes
payment and confirms the order, or undoes what was done, in reverse, and cancels it.

    ReserveInventory ──> ProcessPayment ──> ConfirmOrder ──> Confirmed
          │                  │                  │                ▲ stored after all
          │ OutOfStock       │ declined,        │ any error      │
          │                  │ unavailable      ▼                │
          │                  │              SettleOrder ─────────┘
          │                  │                  │ not stored: the order is cancelled now
          │                  ▼                  │
          │            RefundPayment <──────────┘
          │                  ▼
          │            ReleaseInventory
          ▼                  ▼
    CancelOrder <────────────┘
          ▼
       Cancelled        (each compensation: retries, then FlagNeedsAttention -> Failed)

Every compensation is idempotent and a no-op where there is nothing to undo, so each failure
enters the chain at the step that covers everything done before it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.settings import SagaSettings
from orderflow.contracts import EventSource, SagaError, SagaStep
from orderflow.events.models import ProcessPayment
from orderflow.events.types import CancellationReason, OrderStatus

# Errors worth retrying: Lambda's own transient failures, a step that timed out or whose
# environment died mid-work (every step is idempotent, so running it again is safe), DynamoDB
# throttling and conflicts that outlasted the SDK's and the unit of work's retries,
# optimistic-lock contention, and the payment provider failing a refund (or the look for a
# charge before one). Anything else is a bug or a rule and goes to the compensation.
TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
    "Runtime.ExitError",
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    SagaError.CONCURRENT_UPDATE,
    SagaError.CONTENTION,
    SagaError.PAYMENT_GATEWAY,
]


class FulfilmentSaga(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reserve_inventory: lambda_.IFunction,
        release_inventory: lambda_.IFunction,
        refund_payment: lambda_.IFunction,
        order_steps: lambda_.IFunction,
        payment_commands: sqs.IQueue,
        settings: SagaSettings,
        log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings

        failed = sfn.Fail(self, "Failed", error="CompensationFailed", cause="a compensation failed after its retries")
        flag = self._step("FlagNeedsAttention", order_steps, SagaStep.FLAG).next(failed)
        cancel = self._step("CancelOrder", order_steps, SagaStep.CANCEL, compensation=flag).next(
            sfn.Succeed(self, "Cancelled")
        )
        release = self._step("ReleaseInventory", release_inventory, SagaStep.RELEASE, compensation=flag).next(cancel)
        refund = self._step("RefundPayment", refund_payment, SagaStep.REFUND, compensation=flag).next(release)

        reserve = self._step("ReserveInventory", reserve_inventory, SagaStep.RESERVE, result_path="$.reservation")
        reserve.add_catch(
            self._reason("OutOfStockReason", CancellationReason.OUT_OF_STOCK).next(cancel),
            errors=[SagaError.OUT_OF_STOCK],
            result_path="$.error",
        )
        # A reservation that failed after its retries may still have been applied (its answer
        # lost, the function dying after its write): release whatever it holds before cancelling.
        reserve.add_catch(
            self._reason("ReservationFailedReason", CancellationReason.FULFILMENT_FAILED).next(release),
            errors=["States.ALL"],
            result_path="$.error",
        )

        payment = self._payment(payment_commands)
        payment.add_catch(
            self._reason("DeclinedReason", CancellationReason.PAYMENT_DECLINED).next(refund),
            errors=[SagaError.PAYMENT_DECLINED],
            result_path="$.error",
        )
        # Anything else (the provider failing, its circuit open, no answer in time) is ridden
        # out: the payment is tried again after a wait, until the order's payment deadline;
        # only then is the order cancelled PAYMENT_UNAVAILABLE (and any charge refunded).
        unavailable = self._reason("UnavailableReason", CancellationReason.PAYMENT_UNAVAILABLE).next(refund)
        # Between half the wait and the wait, at random: orders waiting out one outage come
        # back spread out, not together.
        ride_out = sfn.Wait(
            self, "WaitForPaymentProvider", time=sfn.WaitTime.seconds_path("$.clock.wait_seconds")
        ).next(payment)
        longest_wait = settings.payment_retry_wait_seconds
        payment.add_catch(
            sfn.Pass(
                self,
                "PaymentClock",
                parameters={
                    "now": sfn.JsonPath.string_at("$$.State.EnteredTime"),
                    "wait_seconds": sfn.JsonPath.math_random(max(1, longest_wait // 2), longest_wait),
                },
                result_path="$.clock",
            ).next(
                # Fails closed: only a deadline present and still ahead waits; anything else (the
                # deadline passed, or an execution started before deadlines existed) cancels.
                sfn.Choice(self, "PaymentDeadlinePassed")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.is_present("$.payment_deadline"),
                        sfn.Condition.timestamp_less_than_json_path("$.clock.now", "$.payment_deadline"),
                    ),
                    ride_out,
                )
                .otherwise(unavailable)
            ),
            errors=["States.ALL"],
            result_path="$.error",
        )

        confirmed = sfn.Succeed(self, "Confirmed")
        confirm = self._step("ConfirmOrder", order_steps, SagaStep.CONFIRM, result_path="$.confirmation")
        # A confirmation can be stored and still report failure (its answer lost, a timeout):
        # SettleOrder keeps such an order CONFIRMED, and otherwise cancels it before anything is
        # undone, so no late confirmation can follow the refund and the release.
        settle = self._step("SettleOrder", order_steps, SagaStep.SETTLE, result_path="$.settlement", compensation=flag)
        confirm.add_catch(
            self._reason("ConfirmationFailedReason", CancellationReason.FULFILMENT_FAILED).next(settle),
            errors=["States.ALL"],
            result_path="$.error",
        )
        settle.next(
            sfn.Choice(self, "StoredAfterAll")
            .when(sfn.Condition.string_equals("$.settlement.status", str(OrderStatus.CONFIRMED)), confirmed)
            .otherwise(refund)
        )

        definition = reserve.next(payment).next(confirm).next(confirmed)
        # Its log group is in the data stack (`FulfilmentQueues`), under /aws/vendedlogs/.
        self.log_group = log_group
        self.state_machine = sfn.StateMachine(
            self,
            "OrderFulfillment",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.minutes(settings.execution_timeout_minutes),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )

    def _retry(self, task: sfn.TaskStateBase, errors: list[str], *, interval: int, attempts: int) -> None:
        """Exponential backoff with full jitter, so retries of many orders do not arrive together."""
        task.add_retry(
            errors=errors,
            interval=Duration.seconds(interval),
            max_attempts=attempts,
            backoff_rate=self._settings.retry_backoff_rate,
            max_delay=Duration.seconds(self._settings.retry_max_delay_seconds),
            jitter_strategy=sfn.JitterType.FULL,
        )

    def _step(
        self,
        state_id: str,
        function: lambda_.IFunction,
        step: SagaStep,
        *,
        result_path: str = sfn.JsonPath.DISCARD,
        compensation: sfn.IChainable | None = None,
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object({"step": str(step), "saga": sfn.JsonPath.entire_payload}),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
        )
        attempts = self._settings.compensation_max_attempts if compensation else self._settings.retry_max_attempts
        self._retry(task, TRANSIENT, interval=self._settings.retry_interval_seconds, attempts=attempts)
        if compensation is not None:
            task.add_catch(compensation, errors=["States.ALL"], result_path="$.error")
        return task

    def _reason(self, state_id: str, reason: CancellationReason) -> sfn.Pass:
        return sfn.Pass(self, state_id, result=sfn.Result.from_string(str(reason)), result_path="$.reason")

    def _payment(self, queue: sqs.IQueue) -> tasks.SqsSendMessage:
        """The ProcessPayment command (an event envelope) with the task token; the saga waits
        until the payments service answers or the attempt's heartbeat or timeout runs out."""
        command = ProcessPayment.template(
            source=EventSource.SAGA,
            id=sfn.JsonPath.uuid(),
            subject=sfn.JsonPath.string_at("$.order_id"),
            time=sfn.JsonPath.string_at("$$.State.EnteredTime"),
            correlation_id=sfn.JsonPath.string_at("$.correlation_id"),
            causation_id=sfn.JsonPath.string_at("$.event_id"),
            sequence=1,
            data={
                "amount": sfn.JsonPath.string_at("$.total"),
                "currency": sfn.JsonPath.string_at("$.currency"),
                "payment_token": sfn.JsonPath.string_at("$.payment_token"),
                "task_token": sfn.JsonPath.task_token,
            },
        )
        task = tasks.SqsSendMessage(
            self,
            "ProcessPayment",
            queue=queue,
            message_body=sfn.TaskInput.from_object(command),
            message_group_id=sfn.JsonPath.string_at("$.order_id"),
            # Each attempt is a new command: a retry must not be deduplicated away.
            message_deduplication_id=sfn.JsonPath.uuid(),
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            heartbeat_timeout=sfn.Timeout.duration(Duration.seconds(self._settings.payment_heartbeat_seconds)),
            task_timeout=sfn.Timeout.duration(Duration.seconds(self._settings.payment_attempt_timeout_seconds)),
            result_path="$.payment",
        )
        return task
