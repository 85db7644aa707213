"""The floor for AWS calls per order: the fewest calls each function needs to do its job in
this design (outbox + relay, fan-out, a saga of idempotent steps, optimistic concurrency), and
why each call above the floor is made. One order at a time: at load, the relay's batches carry
up to 10 events and its calls per order fall (the throughput run measures that).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Floor:
    function: str  # logical id prefix
    calls: int  # the floor on this path
    needed: str  # what the floor is made of
    above: str = ""  # why more calls are made, where they are


SHIPPED = [
    Floor(
        "OrdersApi",
        2,
        "read the prices (BatchGetItem); store the order with OrderCreated (one transaction)",
        "Powertools idempotency's record for a request with an Idempotency-Key (PutItem in progress, "
        "UpdateItem completed): a retry gets the first response back, a concurrent one a 409",
    ),
    Floor(
        "BackboneRelay",
        10,
        "one PublishBatch and one PutEvents per stream batch: five transactions write this order's "
        "seven events, each read as one batch",
    ),
    Floor("FulfilmentSagaStartsConsumer", 1, "StartExecution, named after the order"),
    Floor(
        "FulfilmentReserveInventory",
        2,
        "read the stock levels the transaction's conditions hold; one transaction (levels, reservation, events)",
    ),
    Floor(
        "FulfilmentPaymentsConsumer",
        2,
        "store the payment with PaymentReceived (one transaction); SendTaskSuccess (the charge "
        "itself is the provider's HTTPS call, counted apart)",
        "GetItem of the payment record (an earlier attempt's charge: never charge twice); GetItem "
        "of the circuit breaker's shared state; SendTaskHeartbeat (is the command still awaited? "
        "one the saga gave up on charges nothing)",
    ),
    Floor(
        "FulfilmentOrderSteps",
        4,
        "confirm: read the order, its reservation and the stock levels the conditions hold; one "
        "transaction (stock sold, order CONFIRMED, events)",
    ),
    Floor("FulfilmentShippingConsumer", 1, "one transaction (shipment, OrderShipped); its condition is the dedup"),
    Floor(
        "OrderHistoryConsumer",
        5,
        "one write per order event (timeline entry and summary, one transaction)",
        "a Query of the order's view before each write (5): the projection is computed from the "
        "current view; one conditional update per event could save them, with the status rules "
        "moved into update expressions",
    ),
    Floor(
        "NotificationsConsumer",
        2,
        "one conditional put per notification (OrderConfirmed, OrderShipped)",
        "Powertools idempotency's in-progress and completed records (4): the send happens at most "
        "once per event even when the function dies between sending and recording it",
    ),
]

DECLINED = [
    SHIPPED[0],
    Floor(
        "BackboneRelay",
        10,
        "five batches: OrderCreated, the reservation's, PaymentDeclined, the release's, OrderCancelled",
    ),
    SHIPPED[2],
    SHIPPED[3],
    Floor(
        "FulfilmentPaymentsConsumer",
        2,
        "store the declined payment with PaymentDeclined (one transaction); SendTaskFailure",
        "GetItem of the payment record, GetItem of the circuit state, SendTaskHeartbeat (as when it ships)",
    ),
    Floor("FulfilmentRefundPayment", 1, "read the payment record: declined, nothing to refund"),
    Floor(
        "FulfilmentReleaseInventory",
        3,
        "read the reservation (its lines) and the stock levels; one transaction (levels, reservation, events)",
    ),
    Floor("FulfilmentOrderSteps", 2, "cancel: read the order; one transaction (CANCELLED, OrderCancelled)"),
    Floor(
        "OrderHistoryConsumer",
        5,
        "one write per order event",
        "a Query of the view before each write (as when it ships)",
    ),
    Floor(
        "NotificationsConsumer",
        1,
        "one conditional put (OrderCancelled)",
        "Powertools idempotency's two records (as when it ships)",
    ),
]

OUT_OF_STOCK = [
    SHIPPED[0],
    Floor("BackboneRelay", 4, "two batches: OrderCreated, OrderCancelled"),
    SHIPPED[2],
    Floor(
        "FulfilmentReserveInventory",
        1,
        "read the stock levels: a line does not fit, nothing is written",
        "GetItem of the reservation: an earlier attempt may have reserved before the stock ran out",
    ),
    Floor("FulfilmentOrderSteps", 2, "cancel: read the order; one transaction"),
    Floor("OrderHistoryConsumer", 2, "one write per order event", "a Query of the view before each write"),
    Floor("NotificationsConsumer", 1, "one conditional put (OrderCancelled)", "Powertools idempotency's two records"),
]

FLOORS = {"shipped": SHIPPED, "declined": DECLINED, "out of stock": OUT_OF_STOCK}
