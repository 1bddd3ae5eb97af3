"""Errors the store raises for input it refuses (an input error: exit status 2 on the
command line, an entry in `errors` in GraphQL, never a server error)."""

from __future__ import annotations

from dsl.errors import SegmentTypeError


class StoreInputError(SegmentTypeError):
    """A bad or unknown name (profile database, field), or a conflicting definition."""


class NotFoundError(StoreInputError):
    """No segment, list or campaign by that name or id (GraphQL may answer null instead)."""


class NameTakenError(StoreInputError):
    """A name already used by another live segment, list or campaign of the database."""


class InUseError(StoreInputError):
    """A segment others depend on cannot go to the bin or be purged; `users` names them
    (`"segment <name>"`, `"campaign <name>"`) so a caller can show the list."""

    def __init__(self, message: str, *, users: list[str], suggestion: str | None = None) -> None:
        super().__init__(message, suggestion=suggestion)
        self.users = list(users)


class ConflictError(StoreInputError):
    """Someone else changed the object between our read and our write; reload and retry."""


class SummariesRepairingError(StoreInputError):
    """Event summaries of the database are being repaired after an interrupted ingest;
    conditions on events are refused meanwhile rather than answered from summaries that
    lag the events. Temporary: the repair resumes by itself."""
