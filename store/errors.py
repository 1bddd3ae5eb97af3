"""The store's errors: requests it refuses. A family of their own, apart from the
language's (dsl/errors.py: syntax, type, JSON form), which carry positions in the text.

Each class carries its `code` (the GraphQL error code; graph/errors.py reads it, never the
order of `isinstance` checks). All of them are input errors for the caller: exit status 2
on the command line, an entry in `errors` in GraphQL, never a server error.
"""

from __future__ import annotations

# MongoDB's code for a write refused by a unique index (a repeated id)
DUPLICATE_KEY = 11000


class StoreError(Exception):
    """A request the store refuses: what was wrong, and what to do about it."""

    code = "INPUT"

    def __init__(self, message: str, *, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion

    def __str__(self) -> str:
        return f"{self.message} ({self.suggestion})" if self.suggestion else self.message


class StoreInputError(StoreError):
    """A bad or unknown name (profile database, field), or a conflicting definition."""


class NotFoundError(StoreInputError):
    """No segment, list or campaign by that name or id (GraphQL may answer null instead)."""

    code = "NOT_FOUND"


class NameTakenError(StoreInputError):
    """A name already used by another live segment, list or campaign of the database."""

    code = "NAME_TAKEN"


class InUseError(StoreInputError):
    """A segment others depend on cannot go to the bin or be purged; `users` names them
    (`"segment <name>"`, `"campaign <name>"`) so a caller can show the list."""

    code = "IN_USE"

    def __init__(self, message: str, *, users: list[str], suggestion: str | None = None) -> None:
        super().__init__(message, suggestion=suggestion)
        self.users = list(users)


class ConflictError(StoreInputError):
    """Someone else changed the object between our read and our write; reload and retry."""

    code = "CONFLICT"


class SummariesRepairingError(StoreError):
    """Event summaries of the database are being repaired after an interrupted ingest;
    conditions on events are refused meanwhile rather than answered from summaries that
    lag the events. Temporary: the repair resumes by itself."""

    code = "UNAVAILABLE"
