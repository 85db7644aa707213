"""Every name shared between the infrastructure (`infra/`) and the code (`orderflow`, `functions/`).

A name that appears in a stack and in a handler lives here, once. Infra passes these to
resources (attribute names, environment variable names, filter policies); code reads them.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every event type orderflow publishes; the value is the envelope `type` and the
    EventBridge detail-type."""

    ORDER_CREATED = "OrderCreated"
    INVENTORY_UPDATED = "InventoryUpdated"
    INVENTORY_RESERVED = "InventoryReserved"
    INVENTORY_RELEASED = "InventoryReleased"
    PAYMENT_RECEIVED = "PaymentReceived"
    PAYMENT_DECLINED = "PaymentDeclined"
    PAYMENT_REFUNDED = "PaymentRefunded"
    ORDER_CONFIRMED = "OrderConfirmed"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_SHIPPED = "OrderShipped"
    PROCESS_PAYMENT = "ProcessPayment"
    CUSTOMER_NOTIFIED = "CustomerNotified"
    LOW_STOCK = "LowStock"
    SYSTEM_ALERT = "SystemAlert"


class EventSource(StrEnum):
    """Envelope `source` (and EventBridge `source`) of each producing service."""

    ORDERS = "orderflow.orders"
    INVENTORY = "orderflow.inventory"
    PAYMENTS = "orderflow.payments"
    SHIPPING = "orderflow.shipping"
    NOTIFICATIONS = "orderflow.notifications"
    SAGA = "orderflow.saga"
    OPERATIONS = "orderflow.operations"


# Events the order lifecycle publishes on the order-events topic (all of them reach the
# order-history queue); the notifier subscribes to the customer-facing subset.
ORDER_EVENTS: tuple[EventType, ...] = (
    EventType.ORDER_CREATED,
    EventType.SYSTEM_ALERT,
    EventType.INVENTORY_RESERVED,
    EventType.INVENTORY_RELEASED,
    EventType.PAYMENT_RECEIVED,
    EventType.PAYMENT_DECLINED,
    EventType.PAYMENT_REFUNDED,
    EventType.ORDER_CONFIRMED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_SHIPPED,
)
# Every event the services write to the outbox: the relay publishes each on the topic and on the
# bus. (ProcessPayment is the saga's command, LowStock a rule's transformation of InventoryUpdated.)
PUBLISHED_EVENTS: tuple[EventType, ...] = (*ORDER_EVENTS, EventType.INVENTORY_UPDATED)
CUSTOMER_FACING_EVENTS: tuple[EventType, ...] = (
    EventType.ORDER_CONFIRMED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_SHIPPED,
)


class MessageAttribute(StrEnum):
    """SNS/SQS message attributes: set by the outbox relay (filter policies match on them), and
    on a message a consumer dead-letters itself (why, and where it came from)."""

    EVENT_TYPE = "event_type"
    CORRELATION_ID = "correlation_id"
    FAILURE_REASON = "failure_reason"
    ERROR_TYPE = "error_type"
    SOURCE_QUEUE = "source_queue"


class Env(StrEnum):
    """Environment variable names set by `infra/` and read by `orderflow.settings`."""

    ORDERS_TABLE = "ORDERS_TABLE"
    OUTBOX_TABLE = "OUTBOX_TABLE"
    CATALOGUE_TABLE = "CATALOGUE_TABLE"
    ORDER_VIEWS_TABLE = "ORDER_VIEWS_TABLE"
    NOTIFICATIONS_TABLE = "NOTIFICATIONS_TABLE"
    IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
    ORDER_EVENTS_TOPIC_ARN = "ORDER_EVENTS_TOPIC_ARN"
    EVENT_BUS_NAME = "EVENT_BUS_NAME"
    OUTBOX_RETENTION_DAYS = "OUTBOX_RETENTION_DAYS"
    IDEMPOTENCY_TTL_SECONDS = "IDEMPOTENCY_TTL_SECONDS"
    MAX_BODY_BYTES = "MAX_BODY_BYTES"
    RESERVATIONS_TABLE = "RESERVATIONS_TABLE"
    PAYMENTS_TABLE = "PAYMENTS_TABLE"
    LEDGER_TABLE = "LEDGER_TABLE"
    PAYMENT_PROVIDER = "PAYMENT_PROVIDER"
    PAYMENT_PROVIDER_URL = "PAYMENT_PROVIDER_URL"
    PAYMENT_PROVIDER_SECRET_ARN = "PAYMENT_PROVIDER_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
    SHIPMENTS_TABLE = "SHIPMENTS_TABLE"
    STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
    PAYMENT_DEADLINE_SECONDS = "PAYMENT_DEADLINE_SECONDS"
    CIRCUIT_FAILURE_THRESHOLD = "CIRCUIT_FAILURE_THRESHOLD"
    CIRCUIT_RECOVERY_SECONDS = "CIRCUIT_RECOVERY_SECONDS"
    DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"


class SagaError(StrEnum):
    """Error names the saga's Retry and Catch match on: the `errorType` of a task function's
    exception (its class name) or the `error` a `SendTaskFailure` reports."""

    OUT_OF_STOCK = "OutOfStock"
    PAYMENT_DECLINED = "PaymentDeclined"
    PAYMENT_GATEWAY = "PaymentGatewayError"  # the provider failed: tried again until the deadline
    PAYMENT_UNAVAILABLE = "PaymentUnavailable"  # the circuit is open: tried again until the deadline
    CONCURRENT_UPDATE = "ConcurrentUpdate"  # transient: retried
    CONTENTION = "Contention"  # transient: a conflict or throttling that outlasted the store's retries


class SagaStep(StrEnum):
    """The `step` a saga task sends its function (a function serves one or several steps)."""

    RESERVE = "reserve"
    RELEASE = "release"
    REFUND = "refund"
    CONFIRM = "confirm"
    SETTLE = "settle"
    CANCEL = "cancel"
    FLAG = "flag"


class Service(StrEnum):
    """Powertools service names, one per function folder: the `service` dimension of every
    metric the function emits, which dashboards and alarms select on."""

    ORDERS_API = "orders-api"
    OUTBOX_RELAY = "outbox-relay"
    HISTORY_PROJECTOR = "history-projector"
    NOTIFIER = "notifier"
    SAGA_STARTER = "saga-starter"
    RESERVE_INVENTORY = "reserve-inventory"
    RELEASE_INVENTORY = "release-inventory"
    REFUND_PAYMENT = "refund-payment"
    ORDER_STEPS = "order-steps"
    PAYMENTS = "payments"
    SHIPPING = "shipping"

    @classmethod
    def of(cls, function: str) -> Service:
        """The service of a function folder (`order_steps` -> `order-steps`)."""
        return cls(function.replace("_", "-"))


class Metric(StrEnum):
    """EMF metric names (namespace `METRICS_NAMESPACE`): emitted by the functions, graphed and
    alarmed on by `infra/`."""

    ORDERS_CREATED = "OrdersCreated"
    ORDERS_CONFIRMED = "OrdersConfirmed"
    ORDERS_CANCELLED = "OrdersCancelled"
    ORDERS_NEEDING_ATTENTION = "OrdersNeedingAttention"
    ORDERS_SHIPPED = "OrdersShipped"
    SAGA_DURATION = "SagaDuration"
    SAGAS_STARTED = "SagasStarted"
    DUPLICATES_SKIPPED = "DuplicatesSkipped"
    EVENTS_PUBLISHED = "EventsPublished"
    EVENTS_PROJECTED = "EventsProjected"
    STALE_EVENTS_REJECTED = "StaleEventsRejected"
    EVENT_AGE = "EventAge"
    BATCH_ITEM_FAILURES = "BatchItemFailures"
    MESSAGES_DEAD_LETTERED = "MessagesDeadLettered"
    CUSTOMERS_NOTIFIED = "CustomersNotified"
    PAYMENTS_PAID = "PaymentsPaid"
    PAYMENTS_DECLINED = "PaymentsDeclined"
    PAYMENT_GATEWAY_ERRORS = "PaymentGatewayErrors"
    PAYMENTS_REJECTED_CIRCUIT_OPEN = "PaymentsRejectedCircuitOpen"
    PAYMENT_CIRCUIT_OPENED = "PaymentCircuitOpened"
    PAYMENT_CIRCUIT_TRANSITIONS = "PaymentCircuitTransitions"
    PAYMENTS_NOT_AWAITED = "PaymentsNotAwaited"
    PAYMENTS_ALREADY_ANSWERED = "PaymentsAlreadyAnswered"
    PAYMENTS_REFUNDED_LATE = "PaymentsRefundedLate"


class Key:
    """Table key attribute names (partition / sort) and TTL attributes."""

    ORDER_ID = "order_id"
    EVENT_ID = "event_id"
    SKU = "sku"
    VIEW_SK = "sk"
    NOTIFICATION_SK = "notification_id"
    IDEMPOTENCY_ID = "id"
    OUTBOX_TTL = "expires_at"
    IDEMPOTENCY_TTL = "expiration"
    LEDGER_KEY = "key"


class Route:
    """API paths, shared by the REST API definition and the resolver."""

    PRODUCTS = "/products"
    ORDERS = "/orders"
    ORDER = "/orders/<order_id>"
    ORDER_PATH_PARAMETER = "order_id"
    IDEMPOTENCY_HEADER = "Idempotency-Key"
    CORRELATION_HEADER = "X-Correlation-Id"  # on every answer, API Gateway's own included


SERVICE_NAME = "orderflow"
METRICS_NAMESPACE = "orderflow"
