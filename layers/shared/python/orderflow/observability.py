"""The one Logger, Tracer and Metrics of the package; every function imports these.

The service name comes from `POWERTOOLS_SERVICE_NAME` (set per function by `infra/`) and falls
back to the package name for local runs and tests; all metrics share one namespace.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

from orderflow.contracts import METRICS_NAMESPACE, SERVICE_NAME

_service = os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)

logger = Logger(service=_service)
tracer = Tracer(service=_service)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=_service)
