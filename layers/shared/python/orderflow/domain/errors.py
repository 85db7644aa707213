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


class UnsupportedEvent(DomainError):
    """An event reached a consumer that has nothing to do with its type (a routing mistake)."""


class ConcurrentUpdate(Exception):
    """Another writer changed the record first; the caller retries (transient)."""
