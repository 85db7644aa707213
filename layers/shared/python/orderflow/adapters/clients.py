"""One SDK client per AWS service per execution environment, all from one botocore session.

Creating a client costs tens of milliseconds of a cold start (its service model, its endpoint
rules), and every new session loads that data again. So every adapter of a function and
Powertools' persistence layers share these clients, and `sessions_shared` lends the session to
libraries that would otherwise make their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
import botocore.session


@cache
def botocore_session() -> Any:
    """The session every shared client comes from (made at first use, not at import: a test's
    AWS mock registers itself with botocore first)."""
    return botocore.session.get_session()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(botocore_session=botocore_session())


@cache
def shared_client(service: str) -> Any:
    return _session().client(service)


@contextmanager
def sessions_shared() -> Iterator[None]:
    """While active, code that asks botocore for a new session gets the shared one.

    The X-Ray SDK builds a sampling client from a new session when it is imported, loading the
    endpoint data and a service model again (aws/aws-xray-sdk-python#311): about a hundred
    milliseconds of every cold start. On Lambda that client is never called (Lambda makes the
    sampling decision), so it may as well come from the session the functions' clients use.
    """
    original = botocore.session.get_session
    shared = botocore_session()

    def get_session(env_vars: Any = None) -> Any:  # botocore's signature; the variables are the session's own
        del env_vars
        return shared

    botocore.session.get_session = get_session
    try:
        yield
    finally:
        botocore.session.get_session = original
