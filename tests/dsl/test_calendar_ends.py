"""Days and instants at the ends of the calendar (year 1, year 9999) and a `now` there:
every date the language accepts evaluates on every path (parse, format, JSON form, check,
compile, reference evaluator, explain, diagnostics), never an overflow.

A bound beyond the representable range means "before every time" or "after every time":
`D after 9999-12-31` holds for no stored time, `in last 30 days` at `now` = 0001-01-05
holds for every time up to `now`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl import ast, temporal
from dsl.compiler import compile_segment, event_count_queries
from dsl.diagnostics import diagnose
from dsl.evaluator import evaluate
from dsl.explain import explain
from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType
from dsl.typecheck import check
from tests.dsl.strategies import typed_expressions

UTC = dt.timezone.utc
FIRST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)

SCHEMA = FieldSchema([FieldDef("D", FieldType.DATE), FieldDef("N", FieldType.NUMBER)])


def _ms(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


edge_instants = st.one_of(
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(1, 3, 1), timezones=st.just(UTC)),
    st.datetimes(dt.datetime(9999, 11, 1), dt.datetime.max, timezones=st.just(UTC)),
    st.sampled_from([FIRST, LAST]),
).map(_ms)
edge_days = st.one_of(st.dates(dt.date(1, 1, 1), dt.date(1, 2, 1)),
                      st.dates(dt.date(9999, 12, 1), dt.date(9999, 12, 31)),
                      st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31)]))
EDGE_DATES = (
    ast.Day(dt.date(1, 1, 1)), ast.Day(dt.date(1, 1, 2)), ast.Day(dt.date(9999, 12, 31)),
    ast.Day(dt.date(9999, 12, 30)), ast.Timestamp(FIRST), ast.Timestamp(LAST),
    ast.Today(), ast.Ago(0, ast.Unit.DAYS), ast.Ago(36_525, ast.Unit.DAYS),
    ast.Ago(876_600, ast.Unit.HOURS), ast.Ago(5_218, ast.Unit.WEEKS),
    ast.Ago(1_200, ast.Unit.MONTHS), ast.Ago(1, ast.Unit.MONTHS),
)
EDGE_AMOUNTS = ((36_525, ast.Unit.DAYS), (876_600, ast.Unit.HOURS), (5_218, ast.Unit.WEEKS),
                (1_200, ast.Unit.MONTHS), (1, ast.Unit.DAYS))
edge_expressions = typed_expressions({"D": "date"}, ["Visit"], {"at": "date"}, [],
                                     dates=EDGE_DATES, amounts=EDGE_AMOUNTS)


def _contact(value: dt.datetime | None) -> dict:
    return {"id": "c1", "database": "main", "fields": {} if value is None else {"D": value}}


# UTC, and the zones furthest east and west: their midnights leave the calendar at its ends.
edge_zones = st.sampled_from([UTC, temporal.zone_of("Pacific/Kiritimati"),
                              temporal.zone_of("Pacific/Pago_Pago")])


@given(expr=edge_expressions, now=edge_instants, value=edge_instants, event_time=edge_instants,
       zone=edge_zones)
def test_every_path_evaluates_at_the_ends_of_the_calendar(expr, now, value, event_time, zone):
    if check(expr, SCHEMA, event_types=["Visit"]):
        return  # e.g. `between 9999-12-31 and 0001-01-01`: a type error with its own message
    text = format_expression(expr)
    assert parse(text) == expr
    assert from_json(to_json(expr)) == expr
    assert not [d for d in diagnose(text, SCHEMA, event_types=["Visit"])
                if d.severity.value == "error"]
    compile_segment(expr, SCHEMA, database="main", now=now, zone=zone,
                    events_collection="events")
    event_count_queries(expr, SCHEMA, database="main", now=now, zone=zone)
    events = [{"id": "e1", "contact": "c1", "type": "Visit", "time": event_time,
               "attributes": {"at": value}}]
    held = evaluate(expr, _contact(value), events, now, zone=zone)
    assert explain(expr, _contact(value), events, now, zone=zone).held == held


@given(day=edge_days, now=edge_instants, value=edge_instants)
def test_a_day_at_either_end_splits_time_exactly(day, now, value):
    literal = ast.Day(day)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    on_day = start <= value and value.date() == day
    assert temporal.equals_interval(literal, now).contains(value) == on_day
    assert temporal.before_interval(literal, now).contains(value) == (value < start)
    assert temporal.after_interval(literal, now).contains(value) == (value.date() > day)
    assert temporal.since_interval(literal, now).contains(value) == (value >= start)


@pytest.mark.parametrize("text, value, expected", [
    ("D after 9999-12-31", LAST, False),
    ("D after 9999-12-30", LAST, True),
    ("D before 0001-01-01", FIRST, False),
    ("D before 0001-01-02", FIRST, True),
    ("D equals 9999-12-31", LAST, True),
    ("D between 9999-12-31 and 9999-12-31", LAST, True),
    ("D after 9999-12-31T23:59:59.999Z", LAST, False),
    ("D in last 36525 days", FIRST, True),
    ("D before 36525 days ago", FIRST, False),
    ("D after 36525 days ago", FIRST, True),
    ("D equals 1200 months ago", FIRST, False),
    ("D in last 1200 months", FIRST, True),
])
def test_bounds_beyond_the_calendar_mean_before_or_after_every_time(text, value, expected):
    now = dt.datetime(1, 1, 5, 12, tzinfo=UTC) if "ago" in text or "last" in text else LAST
    assert evaluate(parse(text), _contact(value), [], now) is expected


@pytest.mark.parametrize("text, expected", [
    ("event Visit occurred in last 1200 months", True),
    ("event Visit occurred in last 36525 days", True),
    ("event Visit occurred before 9999-12-31", True),
    ("event Visit occurred since 9999-12-31", False),
    ("event Visit occurred between 0001-01-01 and 9999-12-31", True),
])
def test_an_event_window_at_either_end(text, expected):
    now = dt.datetime(1, 1, 5, tzinfo=UTC)
    events = [{"id": "e1", "contact": "c1", "type": "Visit", "time": FIRST, "attributes": {}}]
    assert evaluate(parse(text), _contact(None), events, now) is expected
