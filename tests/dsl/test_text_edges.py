"""Text that is no Unicode (a lone UTF-16 surrogate, as a JSON escape or an undecodable
command-line byte becomes in Python) is refused where it enters the language, with its
position, never parsed and then crashed on; and messages read well."""

from __future__ import annotations

import pytest

from dsl.completion import complete
from dsl.diagnostics import diagnose
from dsl.errors import SegmentError
from dsl.json_codec import from_json
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType

SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER)])


@pytest.mark.parametrize("text, column", [
    ('City equals "\ud800"', 14),
    ('`Ci\udc00ty` equals "x"', 4),
    ('City equals "x" and\n in list "\udfff"', 11),
    ("\udcff", 1),
])
def test_a_lone_surrogate_is_a_syntax_error_at_its_position(text, column) -> None:
    with pytest.raises(SegmentError) as raised:
        parse(text)
    assert "surrogate" in raised.value.message and raised.value.column == column
    found = diagnose(text, SCHEMA)
    assert [d for d in found if "surrogate" in d.message]
    complete(text, len(text))  # no crash: completion of such text offers what it can


def test_a_lone_surrogate_in_the_json_form_is_refused_with_its_path() -> None:
    with pytest.raises(SegmentError) as raised:
        from_json({"version": 1, "condition": {"field": "City", "op": "equals",
                                               "value": "a\ud800"}})
    assert "surrogate" in str(raised.value) and "$.condition.value" in str(raised.value)


@pytest.mark.parametrize("text", ["Age > 123456789012345678901", "Age > -99999999999999999999999"])
def test_a_too_long_whole_number_says_its_range(text) -> None:
    with pytest.raises(SegmentError) as raised:
        parse(text)
    message = raised.value.message
    assert "from -9,007,199,254,740,991 to 9,007,199,254,740,991" in message
    assert "whole number must be a whole number" not in message


@pytest.mark.parametrize("literal", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_beyond_the_calendar_in_utc_says_so(literal) -> None:
    with pytest.raises(SegmentError) as raised:
        parse(f"Signup after {literal}")
    assert "outside the years 1 to 9999" in raised.value.message
    form = {"version": 1, "condition": {"field": "Signup", "op": "after",
                                        "value": {"date": literal}}}
    with pytest.raises(SegmentError, match="outside the years 1 to 9999"):
        from_json(form)
