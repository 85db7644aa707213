"""One SDK client per AWS service per execution environment.

Creating a client costs tens of milliseconds of a cold start (its service model, its endpoint
rules), and a library given no client makes its own from a new session, loading every model
again. So every adapter of a function, and Powertools' persistence layers, share these.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def shared_client(service: str) -> Any:
    return boto3.client(service)
