"""Errors the store raises for input it refuses (an input error: exit status 2 on the
command line, an entry in `errors` in GraphQL, never a server error)."""

from __future__ import annotations

from dsl.errors import SegmentTypeError


class StoreInputError(SegmentTypeError):
    """A bad or unknown name (profile database, field), or a conflicting definition."""
