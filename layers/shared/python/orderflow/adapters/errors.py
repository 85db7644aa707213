"""Adapter errors the edge understands."""

from __future__ import annotations


class AlreadyExists(Exception):
    """A conditional create found the record already there (a duplicate)."""


class PublishFailed(Exception):
    """A broker refused or partly failed a publish; the caller retries the record."""
