"""The one Logger, Tracer and Metrics of the package; every function imports these.

The service name comes from `POWERTOOLS_SERVICE_NAME` (set per function by `infra/`) and falls
back to the package name for local runs and tests; all metrics share one namespace.
"""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from orderflow.adapters.clients import sessions_shared
from orderflow.contracts import METRICS_NAMESPACE, SERVICE_NAME, Metric

# A request that records no metric (a GET) is normal, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_service = os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)

logger = Logger(service=_service)
with sessions_shared():  # the X-Ray SDK's import-time client, from the functions' session
    tracer = Tracer(service=_service)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=_service)


def bind_event(event: Any) -> None:
    """Put the event's correlation id and order id on every log line and on the trace, for the
    record being processed now (batch handlers call it per record), and record its age: the
    end-to-end lag from the moment it happened to now."""
    logger.set_correlation_id(event.correlation_id)
    logger.append_keys(order_id=event.subject, event_type=str(event.type), event_id=event.id)
    tracer.put_annotation(key="order_id", value=event.subject)
    tracer.put_annotation(key="event_type", value=str(event.type))
    record_duration(Metric.EVENT_AGE, event.time)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add to a count. Extra `dimensions` (low-cardinality: an event type, a reason) go in a
    metric document of their own, since Powertools applies dimensions to every metric of the
    invocation; the undimensioned total is counted too, for dashboards and alarms."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if dimensions:
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=METRICS_NAMESPACE,
            default_dimensions={"service": _service, **dimensions},
        ):
            pass


def record_duration(name: str, since: datetime) -> None:
    """Milliseconds from `since` to now: an event's age at consumption, a saga's duration."""
    metrics.add_metric(
        name=name, unit=MetricUnit.Milliseconds, value=(datetime.now(UTC) - since).total_seconds() * 1000
    )
