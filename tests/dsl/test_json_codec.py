"""The versioned JSON form: the documented examples, the schema, and every refusal."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import orjson
import pytest
from hypothesis import given

from dsl import ast
from dsl.errors import SegmentJsonError, SegmentSyntaxError
from dsl.formatter import format_expression
from dsl.json_codec import JSON_FORM_VERSION, from_json, to_json
from dsl.parser import MAX_AMOUNT, MAX_DEPTH, parse
from tests.dsl.strategies import expressions

DOC = Path(__file__).parents[2] / "docs" / "json-form.md"
SCHEMA = json.loads(resources.files("dsl").joinpath("expression.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Each ```segmentql block of the reference followed by the ```json block of its condition.
EXAMPLES = re.findall(r"```segmentql\n(.*?)\n```\n```json\n(.*?)\n```", DOC.read_text("utf-8"),
                      re.DOTALL)


def test_the_reference_has_an_example_per_node():
    seen = set()

    def visit(value):
        if isinstance(value, dict):
            seen.update(value)
            if isinstance(value.get("op"), str):
                seen.add("op:" + value["op"])
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                visit(item)

    for _text, condition in EXAMPLES:
        visit(json.loads(condition))
    assert seen >= {"and", "or", "not", "field", "event", "in_list", "in_segment", "occurred",
                    "count", "window", "where", "in_last", "since", "before", "between", "date",
                    "ago", "op:not_equals", "op:between", "op:not_in", "op:in", "op:has_no_value",
                    "op:is_false", "op:in_last", "op:after", "op:exactly", "op:at_least"}


def _version_of(condition: str) -> int:
    """Version 2 when the condition uses a node that version 2 added, else 1."""
    added = ('"total"', '"time"', '"can_receive"', '"cannot_receive"')
    return JSON_FORM_VERSION if any(key in condition for key in added) else 1


@pytest.mark.parametrize(("text", "condition"), EXAMPLES)
def test_reference_examples(text, condition):
    expected = {"version": _version_of(condition), "condition": json.loads(condition)}
    assert to_json(parse(text)) == expected
    assert format_expression(from_json(expected)) == text
    VALIDATOR.validate(expected)


def test_the_schema_is_valid_and_mirrors_the_limits():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for limit in ("amountLimit", "agoLimit"):
        key = "amount" if limit == "amountLimit" else "ago"
        found = {branch["properties"]["unit"]["const"]: branch["properties"][key]["maximum"]
                 for branch in SCHEMA["$defs"][limit]["oneOf"]}
        assert found == {unit.value: maximum for unit, maximum in MAX_AMOUNT.items()}


@given(expressions())
def test_every_json_form_fits_the_schema(expr):
    VALIDATOR.validate(orjson.loads(orjson.dumps(to_json(expr))))


def test_no_conditions_is_a_null_condition():
    assert to_json(ast.MatchAll()) == {"version": 1, "condition": None}
    assert from_json('{"version": 1, "condition": null}') == ast.MatchAll()


def test_json_text_and_bytes_are_read():
    data = {"version": 1, "condition": {"in_list": "VIP"}}
    assert from_json(json.dumps(data)) == from_json(orjson.dumps(data)) == ast.InList("VIP")


def test_timestamps_are_written_in_utc_with_milliseconds():
    condition = to_json(parse("T after 2024-05-01T12:00:00+02:00"))["condition"]
    assert condition["value"] == {"date": "2024-05-01T10:00:00.000Z"}


@pytest.mark.parametrize(("date", "text"), [
    ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
    ("2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.500Z"),
    ("2024-05-01T10:00:00.123999Z", "2024-05-01T10:00:00.123Z"),
    ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
])
def test_timestamps_read_like_the_parser(date, text):
    data = {"version": 1, "condition": {"field": "T", "op": "after", "value": {"date": date}}}
    assert from_json(data) == parse(f"T after {text}")


def test_a_single_element_group_is_that_element():
    data = {"version": 1, "condition": {"and": [{"or": [{"in_list": "VIP"}]}]}}
    assert from_json(data) == ast.InList("VIP")


def nest(levels: int) -> tuple[str, dict]:
    text, node = "A has value", {"field": "A", "op": "has_value"}
    for _ in range(levels):
        text, node = f"not ({text})", {"not": node}
    return text, {"version": 1, "condition": node}


def test_nesting_limit_matches_the_parser():
    text, data = nest(MAX_DEPTH - 1)
    assert from_json(data) == parse(text)
    text, data = nest(MAX_DEPTH)
    with pytest.raises(SegmentSyntaxError):
        parse(text)
    with pytest.raises(SegmentJsonError, match="nests more than 100"):
        from_json(data)


def test_deep_nesting_is_refused_before_validation_recurses():
    """Ten thousand levels (a Python dict can hold them; JSON text up to orjson's 1,024)
    end in the nesting error at the first level too deep, in an event's where too; a value
    nested as deep is refused with its place, never a RecursionError."""
    _text, data = nest(10_000)
    with pytest.raises(SegmentJsonError, match="nests more than 100") as caught:
        from_json(data)
    assert caught.value.path == "$.condition" + ".not" * MAX_DEPTH
    where = {"version": 1, "condition": {"event": "E", "occurred": True,
                                         "where": data["condition"]}}
    with pytest.raises(SegmentJsonError, match="nests more than 100"):
        from_json(where)
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    for condition in ({"field": "F", "op": "equals", "value": deep}, {"in_list": deep},
                      {"and": [{"in_list": "x"}, {"not": {"field": "F", "op": "in",
                                                          "values": [deep]}}]}):
        with pytest.raises(SegmentJsonError) as caught:
            from_json(c(condition))
        assert caught.value.path.startswith("$.condition")
    with pytest.raises(SegmentJsonError, match="not valid JSON"):
        from_json("[" * 10_000 + "]" * 10_000)


def test_a_form_read_again_is_the_same_expression():
    """Forms are remembered once read (a saved segment's is read at every evaluation); a
    form that differs only in JSON types is read on its own."""
    data = c({"field": "F", "op": "gt", "value": 1})
    first = from_json(data)
    assert from_json(json.dumps(data)) is first
    assert from_json(c({"field": "F", "op": "gt", "value": 1.0})) == \
        ast.Compare("F", ast.CompareOp.GT, ast.Number(1.0))
    with pytest.raises(SegmentJsonError, match="not true"):
        from_json(c({"field": "F", "op": "gt", "value": True}))
    with pytest.raises(SegmentJsonError, match="expected a list of conditions"):
        from_json(c({"and": ({"in_list": "x"}, {"in_list": "y"})}))  # a tuple is no JSON list
    assert from_json(c({"and": [{"in_list": "x"}, {"in_list": "y"}]})) == \
        ast.And((ast.InList("x"), ast.InList("y")))


def c(condition) -> dict:
    return {"version": 1, "condition": condition}


def field(op="equals", **rest) -> dict:
    return {"field": "F", "op": op, **rest}


def event(**rest) -> dict:
    return {"event": "E", "occurred": True, **rest}


@pytest.mark.parametrize(("data", "path", "message"), [
    ("{", "$", "not valid JSON"),
    ("[]", "$", "expected an object, not []"),
    ({"condition": None}, "$", 'missing key "version"'),
    ({"version": 3, "condition": None}, "$.version", "version 3 of the JSON form is not known"),
    ({"version": 1, "condition": {"can_receive": "email"}}, "$.version", "need version 2"),
    ({"version": 2, "condition": {"can_receive": "fax"}}, "$.condition.can_receive",
     "unknown channel"),
    ({"version": 2, "condition": {"event": "T", "time": "last", "test": {"op": "is_true"}}},
     "$.condition.test.op", "the test of a time"),
    ({"version": 2, "condition": {"event": "T", "total": "sum", "of": "price",
                                  "test": {"field": "x", "op": "has_value"}}},
     "$.condition.test", "names no field"),
    ({"version": "1", "condition": None}, "$.version", 'version "1"'),
    ({"version": True, "condition": None}, "$.version", "version true"),
    ({"version": 1.0, "condition": None}, "$.version", "version 1.0"),
    ({"version": 1}, "$", 'missing key "condition"'),
    ({"version": 1, "condition": None, "extra": 1}, "$", 'unknown key "extra"'),
    (c([]), "$.condition", "expected a condition object"),
    (c({}), "$.condition", "exactly one of the keys"),
    (c({"and": [], "or": []}), "$.condition", "exactly one of the keys"),
    (c({"and": []}), "$.condition.and", "at least one condition"),
    (c({"or": {"in_list": "x"}}), "$.condition.or", "expected a list of conditions"),
    (c({"and": [{"in_list": "x"}, {"in_list": 1}]}), "$.condition.and[1].in_list", "expected text"),
    (c({"not": {"in_list": "x"}, "x": 1}), "$.condition", 'unknown key "x"'),
    (c({"not": None}), "$.condition.not", "not null"),
    (c({"field": "F"}), "$.condition", 'missing key "op"'),
    (c(field("eq", value=1)), "$.condition.op", 'unknown op "eq"'),
    (c(field(1, value=1)), "$.condition.op", "expected text, not 1"),
    (c(field()), "$.condition", 'missing key "value"'),
    (c(field(value=1, low=1)), "$.condition", 'unknown key "low"'),
    (c(field(value=True)), "$.condition.value", "not true"),
    (c(field(value=None)), "$.condition.value", "not null"),
    (c(field(value=[1])), "$.condition.value", "not [1]"),
    (c(field(value=float("nan"))), "$.condition.value", "finite"),
    (c(field(value=float("inf"))), "$.condition.value", "finite"),
    (c(field(value=2**53)), "$.condition.value", "whole number from -9,007,199,254,740,991"),
    (c(field(value=-(2**53))), "$.condition.value", "whole number"),
    (c(field(value="\ud800")), "$.condition.value", "unpaired surrogate"),
    (c({"field": " \t", "op": "has_value"}), "$.condition.field", "blank"),
    (c({"field": 3, "op": "has_value"}), "$.condition.field", "expected a name"),
    (c(field("between", low=1)), "$.condition", 'missing key "high"'),
    (c(field("in", values=[])), "$.condition.values", "at least one value"),
    (c(field("not_in", values=[1, True])), "$.condition.values[1]", "not true"),
    (c(field("has_value", value=1)), "$.condition", 'unknown key "value"'),
    (c(field("in_last", amount=0, unit="days")), "$.condition.amount", "from 1 to 36,525"),
    (c(field("in_last", amount=36526, unit="days")), "$.condition.amount", "from 1 to 36,525"),
    (c(field("in_last", amount=1.0, unit="days")), "$.condition.amount", "whole number"),
    (c(field("in_last", amount=True, unit="days")), "$.condition.amount", "not true"),
    (c(field("in_last", amount=1, unit="day")), "$.condition.unit", 'unknown unit "day"'),
    (c(field("in_last", amount=1, unit={})), "$.condition.unit", "expected text, not {}"),
    (c(event(window={"in_last": {"amount": 5, "unit": [1]}})), "$.condition.window.in_last.unit",
     "expected text, not [1]"),
    (c(field(value={"date": {"ago": 1, "unit": {}}})), "$.condition.value.date.unit",
     "expected text"),
    (c(field(value={"date": "2024-02-30"})), "$.condition.value.date", "not a valid date"),
    (c(field(value={"date": "2024-05-01T25:00:00Z"})), "$.condition.value.date", "not a valid"),
    (c(field(value={"date": "2024-5-1"})), "$.condition.value.date", "is not a date"),
    (c(field(value={"date": "2024-05-01T10:00:00"})), "$.condition.value.date", "is not a date"),
    (c(field(value={"date": "Today"})), "$.condition.value.date", "is not a date"),
    (c(field(value={"date": "２０２４-05-01"})), "$.condition.value.date", "is not a date"),
    (c(field(value={"date": 20240501})), "$.condition.value.date", "expected a date"),
    (c(field(value={"date": "today", "tz": "UTC"})), "$.condition.value", 'unknown key "tz"'),
    (c(field(value={"day": "2024-05-01"})), "$.condition.value", 'missing key "date"'),
    (c(field(value={"date": {"ago": -1, "unit": "days"}})), "$.condition.value.date.ago",
     "from 0 to 36,525"),
    (c(field(value={"date": {"ago": 1}})), "$.condition.value.date", 'missing key "unit"'),
    (c({"event": "E"}), "$.condition", 'missing key "occurred"'),
    (c({"event": "", "occurred": True}), "$.condition.event", "blank"),
    (c(event(occurred=1)), "$.condition.occurred", "expected true or false"),
    (c(event(occurred=False, count={"op": "at_least", "times": 1})), "$.condition.count",
     '"occurred": true'),
    (c(event(count={"op": "more", "times": 1})), "$.condition.count.op", 'unknown count op'),
    (c(event(count={"op": "exactly", "times": 1_000_001})), "$.condition.count.times",
     "from 0 to 1,000,000"),
    (c(event(count={"op": "exactly"})), "$.condition.count", 'missing key "times"'),
    (c(event(count=None)), "$.condition.count", "expected an object, not null"),
    (c(event(window={})), "$.condition.window", "exactly one of the keys in_last"),
    (c(event(window={"since": {"date": "today"}, "before": {"date": "today"}})),
     "$.condition.window", "exactly one of the keys"),
    (c(event(window={"in_last": {"amount": 1, "unit": "days", "x": 0}})),
     "$.condition.window.in_last", 'unknown key "x"'),
    (c(event(window={"in_last": {"amount": 1201, "unit": "months"}})),
     "$.condition.window.in_last.amount", "from 1 to 1,200"),
    (c(event(window={"since": "2024-01-01"})), "$.condition.window.since", "a date object"),
    (c(event(window={"between": [{"date": "today"}]})), "$.condition.window.between",
     "two dates, not 1"),
    (c(event(window={"between": [{"date": "today"}, {"date": "x"}]})),
     "$.condition.window.between[1].date", "is not a date"),
    (c(event(where={"in_list": "VIP"})), "$.condition.where", "only attribute conditions"),
    (c(event(where={"and": [field("has_value"), {"not": event()}]})),
     "$.condition.where.and[1].not", "only attribute conditions"),
    (c(event(where=None)), "$.condition.where", "not null"),
    (c(event(extra=1)), "$.condition", 'unknown key "extra"'),
])
def test_invalid_forms_name_the_path(data, path, message):
    with pytest.raises(SegmentJsonError) as caught:
        from_json(data)
    assert caught.value.path == path
    assert message in caught.value.message
    assert str(caught.value).startswith(path + ": ")


@pytest.mark.parametrize("data", [
    {"version": 1, "condition": None, "extra": 1},
    {"version": True, "condition": None},
    c({"and": []}),
    c(field("in_last", amount=36526, unit="days")),
    c(field(value={"date": "2024-5-1"})),
    c(event(occurred=False, count={"op": "at_least", "times": 1})),
    c(event(where={"in_list": "VIP"})),
    c({"field": " ", "op": "has_value"}),
])
def test_the_schema_refuses_what_the_reader_refuses(data):
    assert not VALIDATOR.is_valid(data)
