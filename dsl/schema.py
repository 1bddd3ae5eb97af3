"""The field schema of a profile database: which fields exist and what type each one has.

Pure data and rules, no I/O: the store loads and saves it, the type checker reads it.
Names are checked here once for every path, because a field or attribute name becomes part
of a MongoDB document path: a `.` or a leading `$` would turn it into a nested path or an
operator, so the allowed characters are a short, safe list.
"""

from __future__ import annotations

import difflib
import enum
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dsl.errors import SegmentTypeError

MAX_NAME_LENGTH = 64


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    standard: bool = False


STANDARD_FIELDS = (
    FieldDef("Email", FieldType.TEXT, standard=True),
    FieldDef("MobilePhone", FieldType.TEXT, standard=True),
    FieldDef("FirstName", FieldType.TEXT, standard=True),
    FieldDef("LastName", FieldType.TEXT, standard=True),
    FieldDef("CreateTime", FieldType.DATE, standard=True),
)

# Produced by campaign interactions and the website tracker: known before anyone sends one.
SYSTEM_EVENT_TYPES = frozenset({"MailOpen", "MailClick", "SmsClick", "PushClick", "PageVisit"})

_TYPES = ", ".join(kind.value for kind in FieldType)


def validate_field_name(name: str) -> None:
    """Raise SegmentTypeError unless `name` can be a field name."""
    _validate_name(name, "field name")


def validate_attribute_name(name: str) -> None:
    """Raise SegmentTypeError unless `name` can be an event attribute name."""
    _validate_name(name, "event attribute name")


def _validate_name(name: str, what: str) -> None:
    rule = "letters, digits, spaces, _ and -"
    if not isinstance(name, str):
        raise SegmentTypeError(f"the {what} must be text, not {name!r}",
                               suggestion=f"use {rule}")
    if not name.strip():
        raise SegmentTypeError(f"the {what} cannot be empty", suggestion=f"use {rule}")
    if len(name) > MAX_NAME_LENGTH:
        raise SegmentTypeError(
            f"the {what} {name[:20]}... is {len(name)} characters long; the limit is "
            f"{MAX_NAME_LENGTH}", suggestion="use a shorter name")
    bad = next((char for char in name if not _name_char(char)), None)
    if bad is not None:
        raise SegmentTypeError(f"the {what} {name!r} contains {bad!r}",
                               suggestion=f"a name has only {rule}")
    if name != name.strip(" "):
        raise SegmentTypeError(f"the {what} {name!r} starts or ends with a space",
                               suggestion="remove the space")


def _name_char(char: str) -> bool:
    # Letters of any script with their combining marks (so names in Hindi or decomposed
    # accents work), decimal digits, and three separators; never `.`, `$` or control text.
    return unicodedata.category(char)[0] in "LM" or char.isdecimal() or char in " _-"


def closest_name(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The candidate `name` most likely meant: equal ignoring case first, else the closest
    spelling (difflib, ignoring case) at least `cutoff` similar, else None."""
    by_folded: dict[str, str] = {}
    for candidate in sorted(candidates):  # sorted: the same answer on every run
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = name.casefold()
    if folded in by_folded:
        return by_folded[folded]
    match = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=cutoff)
    return by_folded[match[0]] if match else None


class FieldSchema:
    """The fields of one profile database, standard ones always included.

    Immutable: `with_field` returns a new schema. Names are case-sensitive for lookups,
    but two fields never differ only by letter case (a user could not tell them apart).
    """

    def __init__(self, fields: Iterable[FieldDef] = ()) -> None:
        self._fields: dict[str, FieldDef] = {field.name: field for field in STANDARD_FIELDS}
        for field in fields:
            known = self.get(field.name)
            if known is not None and known.type is field.type:
                continue  # a standard field listed again (e.g. as stored) is the same field
            self._add(field)

    def _add(self, field: FieldDef) -> None:
        validate_field_name(field.name)
        if not isinstance(field.type, FieldType):
            raise SegmentTypeError(f"field {field.name}: {field.type!r} is not a field type",
                                   suggestion=f"the types are {_TYPES}")
        clash = next((known for known in self._fields.values()
                      if known.name.casefold() == field.name.casefold()), None)
        if clash is not None:
            raise SegmentTypeError(
                f"a field named {clash.name} already exists ({clash.type.value})",
                suggestion="field names differ by more than letter case; pick another name")
        self._fields[field.name] = field

    def get(self, name: str) -> FieldDef | None:
        return self._fields.get(name)

    def suggest(self, name: str) -> str | None:
        """The known field name closest to `name`, or None."""
        return closest_name(name, self._fields)

    def with_field(self, name: str, type: FieldType | str) -> FieldSchema:
        """A new schema with one more field; SegmentTypeError for a bad or taken name."""
        try:
            field_type = FieldType(type)
        except ValueError:
            raise SegmentTypeError(f"field {name}: {type!r} is not a field type",
                                   suggestion=f"the types are {_TYPES}") from None
        schema = FieldSchema(self._fields.values())
        schema._add(FieldDef(name, field_type))
        return schema

    def __iter__(self) -> Iterator[FieldDef]:
        return iter(self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"FieldSchema({self.to_json()!r})"

    def to_json(self) -> dict[str, str]:
        """Every field, standard ones included: `{"Email": "text", ..., "Age": "number"}`."""
        return {field.name: field.type.value for field in self}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> FieldSchema:
        """The `--fields FILE` form, `{"City": "text", "Age": "number"}`. Standard fields
        may be listed with their own type."""
        if not isinstance(data, dict):
            raise SegmentTypeError("the fields must be a JSON object of name and type",
                                   suggestion='write {"City": "text", "Age": "number"}')
        fields = []
        for name, type in data.items():
            try:
                validate_field_name(name)
                field_type = FieldType(type)
            except SegmentTypeError as error:
                raise SegmentTypeError(f"field {name!r}: {error.message}",
                                       suggestion=error.suggestion) from None
            except ValueError:
                raise SegmentTypeError(f"field {name!r}: {type!r} is not a field type",
                                       suggestion=f"the types are {_TYPES}") from None
            fields.append(FieldDef(name, field_type))
        return cls(fields)

