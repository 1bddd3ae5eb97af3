"""The custom scalars: `DateTime` (ISO 8601, UTC) and `JSON` (free-form JSON).

`DateTime` is written as ISO 8601 in UTC with `Z` (milliseconds when there are any, like
every stored time); it reads any ISO 8601 date or timestamp (`2024-05-01` is midnight UTC,
an offset is converted to UTC). `JSON` passes JSON values through; stored dates inside it
(a contact's date fields, an event's date attributes) come out as ISO 8601 strings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from bson import ObjectId
from graphql import ValueNode
from graphql.utilities import value_from_ast_untyped

from dsl.values import parse_iso_datetime
from store.csv_out import iso_utc


class ScalarValueError(ValueError):
    """A value that does not fit a scalar: reported to the client as it is (not masked)."""


def serialize_datetime(value: dt.datetime) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"DateTime cannot represent {value!r}")
    return iso_utc(value)


def parse_datetime(value: object) -> dt.datetime:
    if isinstance(value, str):
        moment = parse_iso_datetime(value)
        if moment is not None:
            return moment
    raise ScalarValueError(f"{value!r} is not an ISO 8601 date or timestamp such as "
                           "2024-05-01T10:00:00Z")


def to_json_value(value: Any) -> Any:
    """A stored value as JSON: datetimes as ISO 8601 strings, ObjectIds as hex."""
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, ObjectId):
        return str(value)
    return value


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="A moment in time, ISO 8601 (e.g. 2024-05-01T10:00:00Z; written in UTC). "
                "A date without a time is midnight UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

JSONScalar = strawberry.scalar(
    name="JSON",
    description="Any JSON value; stored dates inside it are ISO 8601 strings.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc8259",
    serialize=to_json_value,
    parse_value=lambda value: value,
    parse_literal=_parse_json_literal,
)

SCALARS = {dt.datetime: DateTimeScalar, strawberry.scalars.JSON: JSONScalar}
JSON = strawberry.scalars.JSON
