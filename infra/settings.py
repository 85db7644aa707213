"""Names, sizes and limits of one deployment, in one object passed from `app.py`.

Defaults are production values; `for_stage` adapts them to a stage (`app.py`: `-c stage=NAME`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_logs as logs


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    memory_mb: int = 512
    timeout_seconds: int = 20


@dataclass(frozen=True, kw_only=True)
class ConsumerSettings:
    """A queue consumer: batch size, receives before dead-lettering, concurrency ceiling."""

    batch_size: int = 10
    max_receive_count: int = 5
    # Lambda scales an SQS event source to at most this many concurrent invocations
    # (back pressure on the table it writes); 2 is the minimum AWS accepts.
    maximum_concurrency: int = 5
    function: FunctionSettings = field(default_factory=FunctionSettings)


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    stage_name: str = "prod"
    # Stage-wide and per-client (usage plan) limits: requests per second and burst.
    throttling_rate_limit: float = 100
    throttling_burst_limit: int = 200
    usage_plan_rate_limit: float = 50
    usage_plan_burst_limit: int = 100
    usage_plan_daily_quota: int = 100_000
    max_body_bytes: int = 16_384
    # API Gateway's CloudWatch role is one setting for the whole account and region: the stack
    # creates it (and keeps it on deletion) only when asked (`-c api_cloudwatch_role=true`).
    create_cloudwatch_role: bool = False


@dataclass(frozen=True, kw_only=True)
class RelaySettings:
    batch_size: int = 25
    retry_attempts: int = 5
    max_record_age_hours: int = 24


@dataclass(frozen=True, kw_only=True)
class SagaSettings:
    """Retry timing and limits of the fulfilment saga and the payment gateway's circuit.

    Production values by default; `OrderflowSettings.local()` shortens the waits so tests and
    the local cloud run every path in seconds (same states, same retry counts)."""

    # Transient step errors (a Lambda service error, a timeout, contention or throttling that
    # outlasted the SDK's and the store's retries) are retried 12 times, 2 s doubling up to 30 s
    # (at most 270 s of waits, about half that on average with full jitter): an order is
    # cancelled, or a compensation left to an operator, only when the failure lasts, not for a
    # burst of them. Six retries (CDK's default for Lambda's service errors) are not enough
    # under the soak's faults: a step failing 3 times in 10 gives up once in 4,600 steps with 6
    # retries, once in 6 million with 12; each retry costs one state transition.
    retry_interval_seconds: int = 2
    retry_max_attempts: int = 12
    retry_max_delay_seconds: int = 30
    retry_backoff_rate: float = 2.0
    # A payment the provider cannot take now (its circuit open, a 5xx, a timeout) is tried
    # again after half to all of `payment_retry_wait_seconds` (at random) until the order's
    # payment deadline, counted from the order's creation (or a later saga start); only then
    # is the order cancelled PAYMENT_UNAVAILABLE. One attempt
    # waits for the payments service's answer at most `payment_attempt_timeout_seconds`, and
    # for its heartbeat (sent when the command is picked up) `payment_heartbeat_seconds`.
    payment_deadline_seconds: int = 600
    payment_retry_wait_seconds: int = 15
    payment_heartbeat_seconds: int = 120
    payment_attempt_timeout_seconds: int = 300
    compensation_max_attempts: int = 12
    execution_timeout_minutes: int = 60
    circuit_failure_threshold: int = 3
    circuit_recovery_seconds: int = 60
    low_stock_threshold: int = 5

    def __post_init__(self) -> None:
        if not self.payment_heartbeat_seconds < self.payment_attempt_timeout_seconds <= self.payment_deadline_seconds:
            raise ValueError("payment: heartbeat < attempt timeout <= deadline (Step Functions needs the first)")
        # The last attempt may start just before the deadline; the compensations need time after.
        if self.payment_deadline_seconds + self.payment_attempt_timeout_seconds > self.execution_timeout_minutes * 30:
            raise ValueError("payment deadline + one attempt must fit in half the saga's execution timeout")


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """Alarm thresholds (every alarm notifies the alert topic)."""

    api_5xx_rate: float = 0.01  # share of requests answered 5xx
    function_errors: int = 0  # function errors tolerated per period
    queue_max_age_seconds: int = 300  # oldest message waiting in a consumer queue
    relay_iterator_age_ms: int = 60_000  # how far the outbox relay lags behind the stream


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """Who hears the alert topic: e-mail addresses and HTTPS endpoints (`-c alert_email=...`,
    `-c alert_url=...`, comma-separated). An e-mail subscription is confirmed by its owner."""

    emails: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()


# A stage names both stacks (`orderflow-<stage>-data`, `orderflow-<stage>-app`) and every name
# the stacks spell out (`orderflow-<stage>-...`): two stages live side by side in one account and
# region. The longest name built from it is the X-Ray resource policy's,
# `orderflow-<stage>-sns-tracing`, and X-Ray takes policy names of up to 128
# (tests/infra/test_checks.py checks every name the templates spell against its service).
PRODUCT = "orderflow"
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
MAX_STAGE_NAME = 128 - len(f"{PRODUCT}--sns-tracing")
PRODUCTION = "prod"
LOCAL = "local"


@dataclass(frozen=True, kw_only=True)
class PaymentSettings:
    """Which payment provider the payments functions talk to. `simulated` is the provider orderflow
    ships (a DynamoDB ledger; test cards such as `tok_declined`); `http` is a real provider behind
    the same port (`orderflow.adapters.payment_gateway`), reached at `url` with the API key held
    in Secrets Manager (`secret_arn`). A production stage refuses the simulated provider."""

    provider: str = "simulated"
    url: str = ""
    secret_arn: str = ""

    def __post_init__(self) -> None:
        if self.provider not in ("simulated", "http"):
            raise ValueError(f"payment_provider: {self.provider!r} is neither 'simulated' nor 'http'")
        if self.provider == "http" and not (self.url.startswith("https://") and self.secret_arn.startswith("arn:")):
            raise ValueError(
                "payment_provider=http needs payment_provider_url (https://...) and payment_provider_secret "
                "(the ARN of the Secrets Manager secret holding the provider's API key)"
            )


@dataclass(frozen=True, kw_only=True)
class OrderflowSettings:
    stage: str = "dev"
    api: ApiSettings = field(default_factory=ApiSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    consumer: ConsumerSettings = field(default_factory=ConsumerSettings)
    saga: SagaSettings = field(default_factory=SagaSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    function: FunctionSettings = field(default_factory=FunctionSettings)
    payments: PaymentSettings = field(default_factory=PaymentSettings)
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    outbox_retention_days: int = 7
    idempotency_ttl_seconds: int = 86_400
    dlq_retention_days: int = 14
    archive_retention_days: int = 365
    # Keep data on stack deletion (always in production); a development stage may destroy it.
    retain_data: bool = True

    def __post_init__(self) -> None:
        if not STAGE_NAME.match(self.stage) or len(self.stage) > MAX_STAGE_NAME:
            raise ValueError(
                f"stage {self.stage!r}: a lowercase letter, then lowercase letters, digits and hyphens, "
                f"at most {MAX_STAGE_NAME} characters"
            )
        if self.production and not self.retain_data:
            raise ValueError("stage prod keeps its data: retain_data=false is for development stages")
        if self.production and self.payments.provider == "simulated":
            raise ValueError(
                "stage prod takes real payments: the simulated provider and its test cards are refused; "
                "configure a provider (-c payment_provider=http -c payment_provider_url=https://... "
                "-c payment_provider_secret=arn:aws:secretsmanager:...)"
            )

    @property
    def production(self) -> bool:
        return self.stage == PRODUCTION

    @property
    def prefix(self) -> str:
        """What every name the stacks spell out starts with: `orderflow-<stage>`."""
        return f"{PRODUCT}-{self.stage}"

    @property
    def data_stack_name(self) -> str:
        return f"{self.prefix}-data"

    @property
    def app_stack_name(self) -> str:
        return f"{self.prefix}-app"

    @classmethod
    def for_stage(cls, stage: str, **overrides: Any) -> OrderflowSettings:
        """A stage's settings: production values for `prod`; a development stage logs for a week,
        scales its consumers less and alarms later; `local` (the local cloud and the tests) has
        waits measured in seconds (same states, same retry counts)."""
        if stage == PRODUCTION:
            return cls(stage=stage, log_retention=logs.RetentionDays.ONE_YEAR, **overrides)
        if stage == LOCAL:
            return cls.local(**overrides)
        development = {
            "log_retention": logs.RetentionDays.ONE_WEEK,
            "consumer": ConsumerSettings(maximum_concurrency=2),
            "monitoring": MonitoringSettings(queue_max_age_seconds=900, relay_iterator_age_ms=300_000),
        }
        return cls(stage=stage, **{**development, **overrides})

    @classmethod
    def local(cls, **overrides: Any) -> OrderflowSettings:
        """The same system with waits measured in seconds (tests, the local cloud)."""
        saga = SagaSettings(
            retry_interval_seconds=1,
            retry_max_delay_seconds=4,
            payment_deadline_seconds=60,
            payment_retry_wait_seconds=2,
            payment_heartbeat_seconds=20,
            payment_attempt_timeout_seconds=30,
            circuit_recovery_seconds=5,
        )
        return cls(**{"stage": LOCAL, "saga": saga, "retain_data": False, **overrides})
