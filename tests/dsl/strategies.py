"""Hypothesis strategies for SegmentQL ASTs, shared by round-trip and differential tests.

`expressions()` draws any AST that keeps the AST's invariants (what the parser can
produce), with awkward names and literals on purpose. `typed_expressions(...)` draws only
expressions that type-check against a given schema, with values from small pools so that
small data sets actually match some of them.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from dsl import ast
from dsl.json_codec import MAX_TIMES
from dsl.parser import MAX_AMOUNT, MAX_SAFE_INTEGER

UTC = dt.timezone.utc

# --- any valid AST ---------------------------------------------------------------------------

_AWKWARD_NAMES = ["City", "Age", "url", "URL", "Customer Status", "and", "Value", "IN", "days",
                  "visited", "Kraków", "a`b", "back\\slash", "tab\there", " padded ", "1st",
                  "naïve_ünï", "😀"]
_AWKWARD_TEXTS = ["", "Krakow", 'say "hi"', "it's", "back\\slash", "line\nbreak", "\t\r\b\f",
                  "\x00\x1f\x7f", "\u2028\u00a0", "Zażółć", "😀", "`tick`"]

names = st.one_of(
    st.sampled_from(_AWKWARD_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.text(min_size=1, max_size=10).filter(str.strip),  # surrogates are never drawn
)
texts = st.one_of(st.sampled_from(_AWKWARD_TEXTS), st.text(max_size=12))
units = st.sampled_from(list(ast.Unit))


def amounts(minimum: int):
    """(amount, unit) pairs within the parser's limits."""
    return units.flatmap(lambda unit: st.tuples(st.integers(minimum, MAX_AMOUNT[unit]),
                                                st.just(unit)))


date_literals = st.one_of(
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(ast.Day),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31), timezones=st.just(UTC))
    .map(lambda value: ast.Timestamp(value.replace(microsecond=value.microsecond // 1000 * 1000))),
    st.just(ast.Today()),
    amounts(0).map(lambda pair: ast.Ago(*pair)),
)
literals = st.one_of(
    texts.map(ast.String),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER).map(ast.Number),
    st.floats(allow_nan=False, allow_infinity=False).map(ast.Number),
    date_literals,
)


def _field_conditions(field_names, values=literals):
    return st.one_of(
        st.builds(ast.Compare, field_names, st.sampled_from(list(ast.CompareOp)), values),
        st.builds(ast.Between, field_names, values, values),
        st.builds(ast.InValues, field_names,
                  st.lists(values, min_size=1, max_size=4).map(tuple), st.booleans()),
        st.builds(ast.HasValue, field_names, st.booleans()),
        st.builds(ast.IsBool, field_names, st.booleans()),
        st.builds(lambda name, pair: ast.InLast(name, *pair), field_names, amounts(1)),
    )


def _trees(leaves, max_leaves: int):
    """And/Or (two or more operands) and Not over `leaves`, nested a few levels."""
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: ast.And(tuple(ops))),
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: ast.Or(tuple(ops))),
        inner.map(ast.Not),
    ), max_leaves=max_leaves)


def _optional(strategy):
    return st.none() | strategy


def _events(event_types, counts, windows, wheres):
    return st.one_of(
        st.builds(ast.EventCondition, event_types, st.just(True), _optional(counts),
                  _optional(windows), _optional(wheres)),
        st.builds(ast.EventCondition, event_types, st.just(False), st.none(),
                  _optional(windows), _optional(wheres)),
    )


def _with_match_all(trees):
    # MatchAll (no conditions) only ever stands alone; draw it about one time in ten.
    return st.sampled_from([False] * 9 + [True]).flatmap(
        lambda match_all: st.just(ast.MatchAll()) if match_all else trees)


def expressions(max_leaves: int = 8):
    """Any valid AST: every node kind, every literal kind, awkward names and strings."""
    counts = st.builds(ast.Count, st.sampled_from(list(ast.CountOp)), st.integers(0, MAX_TIMES))
    windows = st.one_of(
        amounts(1).map(lambda pair: ast.LastWindow(*pair)),
        date_literals.map(ast.SinceWindow),
        date_literals.map(ast.BeforeWindow),
        st.builds(ast.BetweenWindow, date_literals, date_literals),
    )
    wheres = _trees(_field_conditions(names), max_leaves=3)
    visited = st.builds(ast.EventCondition, st.just("PageVisit"), st.just(True), _optional(counts),
                        _optional(windows), _field_conditions(st.just("url")))
    event_types = st.one_of(st.just("PageVisit"), names)
    totals = st.builds(ast.EventTotal, event_types, st.sampled_from(list(ast.Aggregate)),
                       _field_conditions(names), _optional(windows), _optional(wheres))
    time_tests = st.one_of(
        st.builds(ast.Compare, st.just(ast.EVENT_TIME_FIELD),
                  st.sampled_from(list(ast.CompareOp)), literals),
        st.builds(ast.Between, st.just(ast.EVENT_TIME_FIELD), literals, literals),
        st.builds(lambda pair: ast.InLast(ast.EVENT_TIME_FIELD, *pair), amounts(1)))
    event_times = st.builds(ast.EventTime, event_types, st.sampled_from(list(ast.Edge)),
                            time_tests)
    consent = st.builds(ast.CanReceive, st.sampled_from(list(ast.Channel)), st.booleans())
    leaves = st.one_of(
        _field_conditions(names),
        _events(event_types, counts, windows, wheres),
        visited,
        totals,
        event_times,
        consent,
        texts.map(ast.InList),
        texts.map(ast.InSegment),
    )
    return _with_match_all(_trees(leaves, max_leaves))


# --- type-correct expressions over a schema -------------------------------------------------

STRINGS = ("Krakow", "KRAKOW", "krak", "Warsaw", "ow", "")
NUMBERS = (0, 1, 2, 3, 5, 10, 18, 30, -1, 2.5)
DATES = (
    ast.Day(dt.date(2024, 5, 1)), ast.Day(dt.date(2024, 4, 30)), ast.Day(dt.date(2024, 5, 2)),
    ast.Timestamp(dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ast.Timestamp(dt.datetime(2024, 5, 1, 23, 59, 59, 999_000, tzinfo=UTC)),
    ast.Today(), ast.Ago(0, ast.Unit.DAYS), ast.Ago(1, ast.Unit.DAYS),
    ast.Ago(7, ast.Unit.DAYS), ast.Ago(3, ast.Unit.HOURS), ast.Ago(1, ast.Unit.WEEKS),
    ast.Ago(1, ast.Unit.MONTHS),
)
AMOUNTS = ((1, ast.Unit.DAYS), (7, ast.Unit.DAYS), (30, ast.Unit.DAYS), (12, ast.Unit.HOURS),
           (2, ast.Unit.WEEKS), (1, ast.Unit.MONTHS))
TIMES = (0, 1, 2, 3)

_OPS_BY_TYPE = {
    "text": [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.STARTS_WITH,
             ast.CompareOp.ENDS_WITH, ast.CompareOp.CONTAINS, ast.CompareOp.NOT_CONTAINS],
    "number": [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.GT,
               ast.CompareOp.GTE, ast.CompareOp.LT, ast.CompareOp.LTE],
    "date": [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.BEFORE,
             ast.CompareOp.AFTER],
}


def typed_expressions(fields: dict[str, str], event_types: list[str],
                      attributes: dict[str, str], lists: list[str], *,
                      strings=STRINGS, numbers=NUMBERS, dates=DATES, amounts=AMOUNTS,
                      times=TIMES, max_leaves: int = 6):
    """Expressions that type-check against `fields` (name -> "text" | "number" | "date" |
    "boolean"), events of `event_types` whose attributes have the types in `attributes`,
    and the lists in `lists`. Values come from the given pools."""
    values = {"text": st.sampled_from(strings).map(ast.String),
              "number": st.sampled_from(numbers).map(ast.Number),
              "date": st.sampled_from(dates)}
    in_last = st.sampled_from(amounts)

    def conditions(schema: dict[str, str]) -> list:
        found = []
        for kind in ("text", "number", "date", "boolean"):
            of_kind = sorted(name for name, type_ in schema.items() if type_ == kind)
            if not of_kind:
                continue
            name = st.sampled_from(of_kind)
            found.append(st.builds(ast.HasValue, name, st.booleans()))
            if kind == "boolean":
                found.append(st.builds(ast.IsBool, name, st.booleans()))
                continue
            value = values[kind]
            found.append(st.builds(ast.Compare, name, st.sampled_from(_OPS_BY_TYPE[kind]), value))
            if kind != "text":
                found.append(st.builds(ast.Between, name, value, value))
            if kind == "text":
                found.append(st.builds(ast.InValues, name, st.lists(value, min_size=1, max_size=3)
                                       .map(tuple), st.booleans()))
            elif kind == "number":
                found.append(st.builds(ast.InValues, name, st.lists(value, min_size=1, max_size=3)
                                       .map(tuple)))
            else:
                found.append(st.builds(lambda n, pair: ast.InLast(n, *pair), name, in_last))
        return found

    leaves = conditions(fields)
    if event_types:
        attribute_conditions = conditions(attributes)
        wheres = (_trees(st.one_of(attribute_conditions), max_leaves=3)
                  if attribute_conditions else st.none())
        counts = st.builds(ast.Count, st.sampled_from(list(ast.CountOp)), st.sampled_from(times))
        windows = st.one_of(
            in_last.map(lambda pair: ast.LastWindow(*pair)),
            values["date"].map(ast.SinceWindow),
            values["date"].map(ast.BeforeWindow),
            st.builds(ast.BetweenWindow, values["date"], values["date"]),
        )
        leaves.append(_events(st.sampled_from(event_types), counts, windows, wheres))
        numeric = sorted(name for name, type_ in attributes.items() if type_ == "number")
        if numeric:
            number = values["number"]
            attribute = st.sampled_from(numeric)
            total_tests = st.one_of(
                st.builds(ast.Compare, attribute, st.sampled_from(_OPS_BY_TYPE["number"]),
                          number),
                st.builds(ast.Between, attribute, number, number),
                st.builds(ast.InValues, attribute, st.lists(number, min_size=1, max_size=3)
                          .map(tuple), st.booleans()),
                st.builds(ast.HasValue, attribute, st.booleans()))
            leaves.append(st.builds(ast.EventTotal, st.sampled_from(event_types),
                                    st.sampled_from(list(ast.Aggregate)), total_tests,
                                    _optional(windows), _optional(wheres)))
        date = values["date"]
        time_field = st.just(ast.EVENT_TIME_FIELD)
        time_tests = st.one_of(
            st.builds(ast.Compare, time_field, st.sampled_from(_OPS_BY_TYPE["date"]), date),
            st.builds(ast.Between, time_field, date, date),
            st.builds(lambda pair: ast.InLast(ast.EVENT_TIME_FIELD, *pair), in_last))
        leaves.append(st.builds(ast.EventTime, st.sampled_from(event_types),
                                st.sampled_from(list(ast.Edge)), time_tests))
    leaves.append(st.builds(ast.CanReceive, st.sampled_from(list(ast.Channel)), st.booleans()))
    if lists:
        leaves.append(st.sampled_from(lists).map(ast.InList))
    if not leaves:
        raise ValueError("typed_expressions needs at least one field, event type or list")
    return _with_match_all(_trees(st.one_of(leaves), max_leaves))
