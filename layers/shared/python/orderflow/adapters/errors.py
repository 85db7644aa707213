"""Adapter errors the edge understands."""

from __future__ import annotations


class AlreadyExists(Exception):
    """A conditional create found the record already there (a duplicate)."""
