"""Domain errors. The edge maps them: HTTP 4xx in the API, a batch failure or DLQ in consumers."""

from __future__ import annotations

from pydantic import ValidationError

MAX_REASON = 500


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


class MalformedMessage(DomainError):
    """A message that is not a valid event: not JSON, an unknown type, or a payload that breaks
    its schema. No retry can fix it."""


class UnsupportedEvent(DomainError):
    """An event reached a consumer that has nothing to do with its type (a routing mistake)."""


class ConcurrentUpdate(Exception):
    """Another writer changed the record first; the caller reads again and retries (transient)."""


class Contention(Exception):
    """The store did not take a write now (a conflicting transaction, throttling) and kept not
    taking it through the retries: transient, retried by the caller, never a business outcome."""


class WriteRejected(Exception):
    """A write the store refuses whatever the timing (too large, invalid): a defect or a limit
    that should have been enforced before; retrying cannot help."""


class OutOfStock(DomainError):
    """Not enough stock for a line: the saga cancels the order instead of retrying."""

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"{sku}: {requested} requested, {available} available")
        self.sku = sku


class PaymentDeclined(DomainError):
    """The payment method was refused; retrying cannot succeed."""


class PaymentVoided(DomainError):
    """A payment command for an order whose payment the saga has voided (it compensated before
    the charge): nothing may be charged, and nobody waits for an answer."""


class PaymentGatewayError(Exception):
    """The gateway failed transiently (timeout, 5xx); the saga retries with backoff."""


class SagaUndecided(Exception):
    """A late answer for a saga that has not settled the order yet: try again later (transient)."""


class PaymentUnavailable(Exception):
    """The gateway is not being called (its circuit is open) or kept failing: fail fast."""


def describe(error: BaseException | None) -> str:
    """A one-line reason; for a message that breaks the event schema, each field and its problem."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
            for problem in error.errors(include_url=False)[:5]
        )
    return " ".join(str(error).split())


def reason_of(error: BaseException | None) -> str:
    """`ErrorType: what was wrong`, on one line and bounded."""
    return f"{type(error).__name__ if error else 'Error'}: {describe(error)}"[:MAX_REASON]
