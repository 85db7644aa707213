"""Domain errors. The edge maps them: HTTP 4xx in the API, a batch failure or DLQ in consumers."""

from __future__ import annotations


class DomainError(Exception):
    """A request or event that the rules reject; retrying it cannot succeed."""


class InvalidOrder(DomainError):
    """The order refers to something that does not exist or does not fit (HTTP 422)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidTransition(DomainError):
    """A saga step that does not fit the order's status (e.g. confirming a cancelled order)."""


class UnsupportedEvent(DomainError):
    """An event reached a consumer that has nothing to do with its type (a routing mistake)."""


class ConcurrentUpdate(Exception):
    """Another writer changed the record first; the caller retries (transient)."""


class OutOfStock(DomainError):
    """Not enough stock for a line: the saga cancels the order instead of retrying."""

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"{sku}: {requested} requested, {available} available")
        self.sku = sku


class PaymentDeclined(DomainError):
    """The payment method was refused; retrying cannot succeed."""


class PaymentGatewayError(Exception):
    """The gateway failed transiently (timeout, 5xx); the saga retries with backoff."""


class PaymentUnavailable(Exception):
    """The gateway is not being called (its circuit is open) or kept failing: fail fast."""
