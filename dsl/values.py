"""Value rules shared by every path: how input values are typed, folded and bucketed.

The store applies them when it writes, the reference evaluator and the compiler when they
read, so the three can never disagree about what a value is.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re

import mmh3

from dsl.errors import SegmentTypeError
from dsl.schema import FieldType, validate_attribute_name

BUCKETS = 10_000  # a contact's bucket is 0..9999: a range of 0.01 % resolution
MAX_TEXT_LENGTH = 65_536
MAX_SAFE_INTEGER = 2**53 - 1

# ASCII digits only: Python's \d would also take other scripts' digits.
_ISO_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}"
    r"(?:\.[0-9]{1,9})?)?(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?")
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})
_SAFE_KEY = re.compile(r"[A-Za-z0-9_\- ]{1,64}")


class ValueRejected(ValueError):
    """A value that does not fit its field's type; the message says why."""


def fold(text: str) -> str:
    """The case-insensitive form text operators compare (casefold: 'Straße' ~ 'STRASSE')."""
    return text.casefold()


def bucket_of(database: str, contact_id: str) -> int:
    """A contact's fixed bucket: a hash of database and id, never random or order-dependent."""
    return mmh3.hash(f"{database}:{contact_id}", signed=False) % BUCKETS


def summary_key(event_type: str) -> str:
    """The key of an event type in a contact's summary: the name when it is a safe path
    segment, else a hash (so `order.completed` never becomes a nested path)."""
    if _SAFE_KEY.fullmatch(event_type):
        return event_type
    return "~" + mmh3.hash_bytes(event_type.encode("utf-8")).hex()


# The contact paths the store keeps a `(database, path)` index on (store/collections.py,
# within caps), besides `lists` and `bucket`; the compiler leads its first `$match` with one.
def field_index_path(name: str, text: bool) -> str:
    """The contact path a field's index covers: `folded.<name>` for text, else `fields.<name>`."""
    return f"{'folded' if text else 'fields'}.{name}"


_SUMMARY_INDEXED = "last"


def summary_index_path(key: str) -> str:
    """The contact path of an event type's index: the `last` time of its summary."""
    return f"events.{key}.{_SUMMARY_INDEXED}"


def is_summary_index_path(path: str) -> bool:
    kind, _, rest = path.partition(".")
    key, _, edge = rest.rpartition(".")
    return kind == "events" and bool(key) and edge == _SUMMARY_INDEXED


def to_millis(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime cut to milliseconds, MongoDB's precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_iso_datetime(text: str, *, shape: re.Pattern = _ISO_DATE) -> dt.datetime | None:
    """An ISO 8601 date or timestamp as an aware UTC datetime cut to milliseconds (a bare
    date, or a time without a zone, is UTC); None when the text is not one. `shape` is the
    form accepted (default: the lenient one of imports and the API; the JSON form passes
    its strict one). The one ISO parser of the project: every path reads times with it."""
    text = text.strip()
    if shape.fullmatch(text) is None:
        return None
    try:  # the shape is checked: fromisoformat only has to read it (it wants "T" and "Z")
        value = dt.datetime.fromisoformat(text.upper())
        return to_millis(value)
    except (ValueError, OverflowError):
        return None


def coerce_field(field_type: FieldType, value: object) -> object:
    """A value as stored for a field of `field_type`; None means "no value" (the field is
    removed). Raises ValueRejected with a message that names the value and the type."""
    if value is None:
        return None
    if field_type is FieldType.TEXT:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueRejected(f"{value!r} is not text")
        text = str(value)
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueRejected(f"text longer than {MAX_TEXT_LENGTH} characters")
        return text
    if field_type is FieldType.NUMBER:
        return _coerce_number(value)
    if field_type is FieldType.DATE:
        if isinstance(value, dt.datetime):
            return to_millis(value)
        if isinstance(value, str):
            if not value.strip():
                return None
            parsed = parse_iso_datetime(value)
            if parsed is not None:
                return parsed
        raise ValueRejected(f"{value!r} is not an ISO 8601 date such as 2024-05-01 or "
                            "2024-05-01T10:00:00Z")
    if field_type is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
            if not word:
                return None
        raise ValueRejected(f"{value!r} is not true or false")
    raise AssertionError(field_type)


def _coerce_number(value: object) -> int | float | None:
    if isinstance(value, str):  # CSV cells arrive as text
        text = value.strip()
        if not text:
            return None
        try:
            value = int(text) if re.fullmatch(r"[+-]?[0-9]{1,16}", text) else float(text)
        except ValueError:
            raise ValueRejected(f"{text!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueRejected(f"{value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueRejected(f"{value!r} is not a finite number")
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueRejected(f"{value} is beyond ±{MAX_SAFE_INTEGER}")
    return value


@functools.lru_cache(maxsize=4096)
def _attribute_name_problem(name: str) -> str | None:
    """Why `name` cannot be an attribute name, or None. Cached: an import repeats the same
    few names on every event, and checking one character by character is costly."""
    try:
        validate_attribute_name(name)
    except SegmentTypeError as error:
        return error.message
    return None


def normalize_attributes(attributes: object) -> tuple[dict, dict]:
    """Event attributes as stored, and the casefolded copy of their text values.

    Attributes are a flat JSON object; strings that are ISO 8601 dates become datetimes, so
    date conditions in `where` compare them as dates."""
    if attributes is None:
        return {}, {}
    if not isinstance(attributes, dict):
        raise ValueRejected("attributes must be a JSON object")
    stored: dict = {}
    folded: dict = {}
    for name, value in attributes.items():
        if not isinstance(name, str):
            raise ValueRejected(f"attribute name {name!r} is not text")
        problem = _attribute_name_problem(name)
        if problem is not None:
            raise ValueRejected(problem)
        if isinstance(value, str):
            moment = parse_iso_datetime(value)
            if moment is not None:
                stored[name] = moment
                continue
            stored[name] = value
            folded[name] = fold(value)
        elif value is None or isinstance(value, bool):
            stored[name] = value
        elif isinstance(value, (int, float)):
            stored[name] = _coerce_number(value)
        else:
            raise ValueRejected(f"attribute {name} must be text, a number, true/false or null "
                                "(attributes are a flat object)")
    return stored, folded


def bucket_bounds(range_from: float, range_to: float) -> tuple[int, int]:
    """The buckets [low, high) a range [from %, to %) selects."""
    if not 0 <= range_from <= range_to <= 100:
        raise ValueError(f"a range needs 0 <= from <= to <= 100, not {range_from}:{range_to}")
    return round(range_from * BUCKETS / 100), round(range_to * BUCKETS / 100)
