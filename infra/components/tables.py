"""The DynamoDB tables: KMS (customer key), point-in-time recovery, on-demand capacity."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from orderflow.contracts import Key


class Tables(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, retain: bool, simulated_provider: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self._removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY

        self.orders = self._table("Orders", Key.ORDER_ID)
        # Every state change writes its event here in the same transaction; the stream feeds
        # the relay. Records expire once long published.
        self.outbox = self._table("Outbox", Key.EVENT_ID, stream=dynamodb.StreamViewType.NEW_IMAGE, ttl=Key.OUTBOX_TTL)
        self.catalogue = self._table("Catalogue", Key.SKU)
        self.order_views = self._table("OrderViews", Key.ORDER_ID, sort_key=Key.VIEW_SK)
        self.notifications = self._table("Notifications", Key.ORDER_ID, sort_key=Key.NOTIFICATION_SK)
        # Powertools idempotency records and the payment gateway's circuit state.
        self.idempotency = self._table("Idempotency", Key.IDEMPOTENCY_ID, ttl=Key.IDEMPOTENCY_TTL)
        self.reservations = self._table("Reservations", Key.ORDER_ID)
        self.payments = self._table("Payments", Key.ORDER_ID)
        # The simulated payment provider's own ledger, in a stage that uses it (a real provider
        # keeps this on its side).
        self.ledger = self._table("PaymentLedger", Key.LEDGER_KEY) if simulated_provider else None
        self.shipments = self._table("Shipments", Key.ORDER_ID)

    def _table(
        self,
        construct_id: str,
        partition_key: str,
        *,
        sort_key: str | None = None,
        stream: dynamodb.StreamViewType | None = None,
        ttl: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self._key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=stream,
            time_to_live_attribute=ttl,
            removal_policy=self._removal,
            deletion_protection=self._removal is RemovalPolicy.RETAIN,
        )
