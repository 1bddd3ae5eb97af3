"""Every operator with every value of the expression pools, on one data set that holds every
edge value: the store selects exactly what the reference evaluator selects.

Random search finds interactions; this finds every boundary of every single construct
(`between 1 and 3` on a contact whose value is exactly 1), deterministically.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from dsl import ast
from dsl.evaluator import select
from dsl.formatter import format_expression
from dsl.schema import FieldDef, FieldSchema, FieldType
from dsl.typecheck import check
from dsl.values import parse_iso_datetime
from store import query
from store.query import planner as plan_module
from tests.dsl.strategies import AMOUNTS, DATES, NUMBERS, STRINGS
from tests.dsl.strategies import TIMES as COUNTS
from tests.store.oracle import (ATTRIBUTE_VALUES, EVENT_TYPES, FIELD_VALUES, FIELDS, LISTS, NOW,
                                iso,
                                TIMES, load, oracle_data)

TEXT_OPS = [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.STARTS_WITH,
            ast.CompareOp.ENDS_WITH, ast.CompareOp.CONTAINS, ast.CompareOp.NOT_CONTAINS]
NUMBER_OPS = [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.GT,
              ast.CompareOp.GTE, ast.CompareOp.LT, ast.CompareOp.LTE]
DATE_OPS = [ast.CompareOp.EQUALS, ast.CompareOp.NOT_EQUALS, ast.CompareOp.BEFORE,
            ast.CompareOp.AFTER]
WINDOWS = [None, *(ast.LastWindow(n, unit) for n, unit in AMOUNTS),
           *(ast.SinceWindow(date) for date in DATES), *(ast.BeforeWindow(date) for date in DATES),
           *(ast.BetweenWindow(low, high) for low, high in zip(DATES, DATES[1:] + DATES[:1]))]
COUNT_FORMS = [(True, None), (False, None),
               *((True, ast.Count(op, n)) for op in ast.CountOp for n in COUNTS)]


def value_conditions(name: str, kind: str) -> list:
    found = [ast.HasValue(name, True), ast.HasValue(name, False)]
    if kind == "text":
        found += [ast.Compare(name, op, ast.String(s)) for op in TEXT_OPS for s in STRINGS]
        found += [ast.InValues(name, (ast.String(s), ast.String("Warsaw")), negated)
                  for s in STRINGS for negated in (False, True)]
    elif kind == "number":
        found += [ast.Compare(name, op, ast.Number(n)) for op in NUMBER_OPS for n in NUMBERS]
        found += [ast.Between(name, ast.Number(low), ast.Number(high))
                  for low, high in itertools.product(NUMBERS, NUMBERS) if low <= high]
        found += [ast.InValues(name, (ast.Number(n), ast.Number(30))) for n in NUMBERS]
    elif kind == "date":
        found += [ast.Compare(name, op, date) for op in DATE_OPS for date in DATES]
        found += [ast.Between(name, low, high) for low, high in itertools.product(DATES, DATES)]
        found += [ast.InLast(name, n, unit) for n, unit in AMOUNTS]
    else:
        found += [ast.IsBool(name, True), ast.IsBool(name, False)]
    return found


def all_constructs() -> list[ast.Expression]:
    found = [*value_conditions("City", "text"), *value_conditions("Age", "number"),
             *value_conditions("Signup", "date"), *value_conditions("Newsletter", "boolean")]
    found += [ast.InList(name) for name in LISTS] + [ast.Not(ast.InList("VIP")), ast.MatchAll()]
    wheres = [*value_conditions("price", "number"), *value_conditions("category", "text"),
              *value_conditions("sent", "date")[:40], ast.IsBool("gift", True)]
    for event_type in EVENT_TYPES:
        found += [ast.EventCondition(event_type, occurred, count, window)
                  for (occurred, count), window in itertools.product(COUNT_FORMS, WINDOWS)]
    found += [ast.EventCondition("product_purchased", occurred, count, window, where)
              for where in wheres
              for (occurred, count), window in [((True, None), None), ((False, None), WINDOWS[3]),
                                                ((True, ast.Count(ast.CountOp.AT_LEAST, 2)), None)]]
    found += total_constructs() + event_time_constructs()
    found += [ast.CanReceive(channel, negated) for channel in ast.Channel
              for negated in (False, True)]
    schema = FieldSchema([FieldDef(name, FieldType(kind)) for name, kind in FIELDS.items()])
    return [expr for expr in found if not check(expr, schema)]


def total_tests(name: str) -> list:
    """Number tests on a total: every operator, values on the data's edges (sums and
    averages of the price pool land on 0, 1, 2.5, 5, 10, 30 and between)."""
    values = (0, 1, 2.5, 5, 10, 15)
    return [*(ast.Compare(name, op, ast.Number(n)) for op in NUMBER_OPS for n in values),
            ast.Between(name, ast.Number(1), ast.Number(10)),
            ast.InValues(name, (ast.Number(5), ast.Number(30))),
            ast.InValues(name, (ast.Number(0), ast.Number(1)), True),
            ast.HasValue(name, True), ast.HasValue(name, False)]


def total_constructs() -> list:
    """Every total with every test; windows (an empty one too: nothing is that old) and a
    where on some."""
    empty_window = ast.BeforeWindow(ast.Day(dt.date(2000, 1, 1)))
    found = [ast.EventTotal("product_purchased", aggregate, test)
             for aggregate in ast.Aggregate for test in total_tests("price")]
    found += [ast.EventTotal("product_purchased", aggregate, test, window, where)
              for aggregate in ast.Aggregate
              for test in total_tests("price")[::3]
              for window, where in [(WINDOWS[3], None), (empty_window, None),
                                    (None, ast.Compare("category", ast.CompareOp.CONTAINS,
                                                       ast.String("ow"))),
                                    (ast.LastWindow(30, ast.Unit.DAYS),
                                     ast.HasValue("gift", True))]]
    found += [ast.EventTotal("MailClick", aggregate, ast.Compare("price", ast.CompareOp.GT,
                                                                 ast.Number(1)))
              for aggregate in ast.Aggregate]
    return found


def event_time_constructs() -> list:
    """Every date test on the first and the last time of each type."""
    tests = [test for test in value_conditions(ast.EVENT_TIME_FIELD, "date")
             if not isinstance(test, ast.HasValue)]
    return [ast.EventTime(event_type, edge, test)
            for event_type in EVENT_TYPES for edge in ast.Edge
            for test in (tests if event_type == "product_purchased" else tests[::7])]  # `between` out of order is an error


def dataset():
    """Every edge value on some contact; events of every type at every edge time."""
    pools = list(FIELD_VALUES.items())
    contacts = [{name: values[(n * (2 * k + 1)) % len(values)] for k, (name, values) in enumerate(pools)
                 if (n + k) % 7}  # now and then a field is missing altogether
                for n in range(48)]
    lists = [LISTS[: n % 3] for n in range(48)]
    attribute_pools = list(ATTRIBUTE_VALUES.items())
    events = []
    for n in range(48):
        for k in range(n % 5):
            attributes = {name: values[(n + k * (j + 2)) % len(values)]
                          for j, (name, values) in enumerate(attribute_pools)}
            events.append({"contact": n, "type": EVENT_TYPES[(n + k) % 2],
                           "time": TIMES[(n * 3 + k * 5) % len(TIMES)], "attributes": attributes,
                           **({"id": f"e{n % 9}-{k}"} if k % 2 else {})})
    return contacts, lists, events


def in_the_past(event) -> bool:
    return parse_iso_datetime(event["time"]) <= NOW


@pytest.fixture(scope="module", params=["with-future-events", "no-event-after-now"])
def loaded(sync_store, request):
    """Events dated after `now` leave some windows to the events join; without them the
    summaries answer every window (the compiler learns the latest event time per type)."""
    runner, store = sync_store
    contacts, lists, events = dataset()
    if request.param == "no-event-after-now":
        events = [event for event in events if in_the_past(event)]
    rows = runner.run(load(store, request.param, contacts, lists, events))
    return request.param, runner, store, oracle_data(contacts, lists, rows)


def test_every_construct_on_every_edge_value(loaded, monkeypatch):
    """Event conditions run twice: counted on the events side (the semi-join, the
    default) and joined per contact (`$lookup`, what larger counts fall back to)."""
    database, runner, store, (contacts, events) = loaded
    constructs = all_constructs()
    assert len(constructs) > 1000
    if database == "no-event-after-now":
        assert all(event["time"] <= NOW for event in events)
        constructs = [expr for expr in constructs if isinstance(expr, ast.EVENT_CONDITIONS)]

    async def ids_of(expr):
        prepared = await query.prepare(store.db, database, parsed=expr, now=NOW)
        return [row["id"] async for row in query.members(prepared)]

    counted = []  # how many conditions each evaluation counted on the events side
    count_events = plan_module.count_events

    async def counting(db, queries, **options):
        counts = await count_events(db, queries, **options)
        counted.append(len(counts))
        return counts
    monkeypatch.setattr(plan_module, "count_events", counting)

    mismatches = []
    selective = both_ways = 0
    for expr in constructs:
        expected = select(expr, database, contacts, events, NOW)
        counted.clear()
        got = runner.run(ids_of(expr))
        selective += 0 < len(expected) < len(contacts)
        if got != expected:
            mismatches.append(f"{format_expression(expr)}: store {got} != reference {expected}")
        if sum(counted):
            both_ways += 1
            plan_module.SEMI_JOIN_CONTACTS, limit = -1, plan_module.SEMI_JOIN_CONTACTS
            try:  # every condition joined
                joined = runner.run(ids_of(expr))
            finally:
                plan_module.SEMI_JOIN_CONTACTS = limit
            if joined != expected:
                mismatches.append(f"{format_expression(expr)} (joined): store {joined} != "
                                  f"reference {expected}")
    assert not mismatches, "\n".join(mismatches[:20])
    assert both_ways > (100 if database == "with-future-events" else 10), both_ways
    assert selective > len(constructs) // 2  # the data set tells the constructs apart


# --- time zones: the database's calendar days, on daylight-saving edges -----------------------

WARSAW_EDGES = [  # instants on the edges of 2024-03-31 (23 h) and 2024-10-27 (25 h) in Warsaw
    dt.datetime(2024, 3, 30, 22, 59, 59, 999_000), dt.datetime(2024, 3, 30, 23),
    dt.datetime(2024, 3, 31, 0, 30), dt.datetime(2024, 3, 31, 21, 59, 59, 999_000),
    dt.datetime(2024, 3, 31, 22), dt.datetime(2024, 10, 26, 21, 59, 59, 999_000),
    dt.datetime(2024, 10, 26, 22), dt.datetime(2024, 10, 27, 0, 30),
    dt.datetime(2024, 10, 27, 22, 59, 59, 999_000), dt.datetime(2024, 10, 27, 23),
    dt.datetime(2024, 10, 28, 0, 30), dt.datetime(2024, 9, 30, 23),
]


def zone_constructs() -> list:
    days = [ast.Day(dt.date(2024, 3, 31)), ast.Day(dt.date(2024, 10, 27)), ast.Today(),
            ast.Ago(1, ast.Unit.DAYS), ast.Ago(1, ast.Unit.MONTHS), ast.Ago(1, ast.Unit.WEEKS)]
    found = [ast.Compare("Signup", op, day) for op in DATE_OPS for day in days]
    found += [ast.Between("Signup", low, high) for low in days for high in days]
    found += [ast.InLast("Signup", n, unit) for n, unit in ((1, ast.Unit.DAYS),
                                                              (1, ast.Unit.MONTHS))]
    windows = [ast.SinceWindow(day) for day in days] + [ast.BeforeWindow(day) for day in days]
    windows += [ast.BetweenWindow(day, day) for day in days]
    windows += [ast.LastWindow(1, ast.Unit.MONTHS), ast.LastWindow(1, ast.Unit.DAYS)]
    found += [ast.EventCondition("product_purchased", True, None, window) for window in windows]
    found += [ast.EventCondition("product_purchased", True, ast.Count(ast.CountOp.AT_LEAST, 2),
                                 window) for window in windows]
    found += [ast.EventTotal("product_purchased", ast.Aggregate.SUM,
                             ast.Compare("price", ast.CompareOp.GTE, ast.Number(5)), window)
              for window in windows]
    found += [ast.EventTime("product_purchased", edge, ast.Compare(ast.EVENT_TIME_FIELD, op, day))
              for edge in ast.Edge for op in DATE_OPS for day in days]
    schema = FieldSchema([FieldDef(name, FieldType(kind)) for name, kind in FIELDS.items()])
    return [expr for expr in found if not check(expr, schema)]


@pytest.mark.parametrize("now", [dt.datetime(2024, 3, 31, 12, tzinfo=dt.timezone.utc),
                                 dt.datetime(2024, 10, 27, 23, 30, tzinfo=dt.timezone.utc)])
def test_calendar_days_are_the_databases_across_daylight_saving(sync_store, now):
    """A Warsaw database: 2024-03-31 is 23 hours long, 2024-10-27 25 hours; the store and
    the reference evaluator agree on every day rule, and the day is Warsaw's, not UTC's."""
    from zoneinfo import ZoneInfo

    from store.fields import set_database_timezone

    runner, store = sync_store
    database = f"warsaw{now.month}"
    iso_edges = [iso(moment.replace(tzinfo=dt.timezone.utc)) for moment in WARSAW_EDGES]
    contacts = [{"Signup": edge} for edge in iso_edges]
    events = [{"contact": n, "type": "product_purchased", "time": edge,
               "attributes": {"price": 5}}
              for n, edge in enumerate(iso_edges)]
    events += [{"contact": n, "type": "product_purchased", "time": iso_edges[(n + 3) % 12],
                "attributes": {"price": 1}} for n in range(0, 12, 2)]
    rows = runner.run(load(store, database, contacts, [], events))
    runner.run(set_database_timezone(store.db, database, "Europe/Warsaw", actor="test"))
    typed_contacts, typed_events = oracle_data(contacts, [], rows)
    warsaw = ZoneInfo("Europe/Warsaw")

    async def ids_of(expr):
        prepared = await query.prepare(store.db, database, parsed=expr, now=now)
        return [row["id"] async for row in query.members(prepared)]

    mismatches = []
    for expr in zone_constructs():
        expected = select(expr, database, typed_contacts, typed_events, now, zone=warsaw)
        got = runner.run(ids_of(expr))
        if got != expected:
            mismatches.append(f"{format_expression(expr)}: store {got} != reference {expected}")
    assert not mismatches, "\n".join(mismatches[:20])

    # The day is Warsaw's: 2024-03-31 runs from 23:00 UTC the day before for 23 hours.
    day = ast.Compare("Signup", ast.CompareOp.EQUALS, ast.Day(dt.date(2024, 3, 31)))
    assert sorted(runner.run(ids_of(day))) == ["c1", "c2", "c3"]
    long_day = ast.Compare("Signup", ast.CompareOp.EQUALS, ast.Day(dt.date(2024, 10, 27)))
    assert sorted(runner.run(ids_of(long_day))) == ["c6", "c7", "c8"]
