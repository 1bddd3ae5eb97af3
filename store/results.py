"""What a batch write reports: exactly what was and was not stored (docs/interfaces.md WriteResult)."""

from __future__ import annotations

from dataclasses import dataclass, field


MAX_ID_LENGTH = 256


class RowRejected(Exception):
    """One row of a batch refused; its message becomes the RowError's."""


def check_id(value: object, what: str) -> str:
    """A contact or event id: a non-empty text of at most MAX_ID_LENGTH characters."""
    if not isinstance(value, str) or not value:
        raise RowRejected(f"{what} must be a non-empty text, not {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise RowRejected(f"{what} {value[:40]!r}... is longer than {MAX_ID_LENGTH} characters")
    return value


@dataclass(frozen=True)
class RowError:
    """A row that was not stored. `index` is the row's 0-based position in the batch (the
    importers use the 1-based line number in the file instead); `id` the row's id if any."""

    index: int
    id: str | None
    message: str

    def to_dict(self) -> dict:
        return {"index": self.index, "id": self.id, "message": self.message}


@dataclass
class WriteReport:
    """`stored`: rows written (new or updated); `duplicates`: rows already stored before
    (an event id seen again: stored once); `rejected`: the rows refused, with why."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[RowError] = field(default_factory=list)
    contacts_created: int = 0  # events with createContacts: the contacts made for them

    def add(self, other: WriteReport) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.contacts_created += other.contacts_created

    def to_dict(self) -> dict:
        data = {"stored": self.stored, "duplicates": self.duplicates,
                "rejected": [error.to_dict() for error in self.rejected]}
        if self.contacts_created:
            data["contacts_created"] = self.contacts_created
        return data
