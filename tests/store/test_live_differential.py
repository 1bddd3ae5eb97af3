"""The live membership equals a fresh pipeline evaluation after every step of a random
stream of contact writes, list changes, events (late, early and future ones) and clock
advances, over live segments drawn from the whole language, `in segment` included; and a
segment's recorded changes replay to its membership."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dsl import ast
from dsl.formatter import format_expression
from dsl.schema import FieldType
from dsl.typecheck import check
from store.contacts import upsert_contacts
from store.events import track_events
from store.fields import define_field, ensure_database, load_schema
from store.lists import add_to_list, create_list, remove_from_list
from store.live import clock
from store.live.changes import changes_after
from store.live.membership import member_ids
from store.live.sweep import sweep
from store.segments import create_segment
from store import query
from tests.dsl.strategies import typed_expressions
from tests.store.oracle import ATTRIBUTE_VALUES, ATTRIBUTES, EVENT_TYPES, FIELD_VALUES, FIELDS, \
    LISTS, NOW, iso

CONTACTS = [f"c{n}" for n in range(5)]
OFFSETS = [dt.timedelta(days=-40), dt.timedelta(days=-30, milliseconds=-1),
           dt.timedelta(days=-7), dt.timedelta(hours=-12), dt.timedelta(0),
           dt.timedelta(milliseconds=1), dt.timedelta(hours=3), dt.timedelta(days=3),
           dt.timedelta(days=8)]
ADVANCES = [dt.timedelta(milliseconds=1), dt.timedelta(hours=3), dt.timedelta(hours=12),
            dt.timedelta(days=1), dt.timedelta(days=3), dt.timedelta(days=8),
            dt.timedelta(days=31)]

contact_rows = st.lists(st.fixed_dictionaries(
    {"id": st.sampled_from(CONTACTS),
     "fields": st.fixed_dictionaries({}, optional={
         name: st.sampled_from(values) for name, values in FIELD_VALUES.items()})},
    optional={"lists": st.lists(st.sampled_from(LISTS), unique=True, max_size=2)}),
    min_size=1, max_size=4)
event_rows = st.lists(st.fixed_dictionaries(
    {"contact": st.sampled_from(CONTACTS), "type": st.sampled_from(EVENT_TYPES),
     "offset": st.sampled_from(OFFSETS),
     "attributes": st.fixed_dictionaries({}, optional={
         name: st.sampled_from(values) for name, values in ATTRIBUTE_VALUES.items()})}),
    min_size=1, max_size=5)
steps = st.lists(st.one_of(
    st.tuples(st.just("contacts"), contact_rows),
    st.tuples(st.just("events"), event_rows),
    st.tuples(st.sampled_from(["add", "remove"]), st.sampled_from(LISTS),
              st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=3, unique=True)),
    st.tuples(st.just("advance"), st.sampled_from(ADVANCES)),
), min_size=1, max_size=7)
expressions = typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS, max_leaves=4)


@pytest.fixture(scope="module")
def long_retention():
    """Keep every change record: the replay reads them all, across month-long advances."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENTQL_LIVE_RETENTION_DAYS", "36500")
        yield


@pytest.fixture(scope="module")
def live(sync_store):
    runner, store = sync_store
    return runner, store, itertools.count()


async def _prepare(db, database):
    await ensure_database(db, database)
    for name, type_ in FIELDS.items():
        await define_field(db, database, name, FieldType(type_))
    for name in LISTS:
        await create_list(db, database, name, actor="test")
    # known event types (a segment naming an unknown one is refused), on a bystander
    await upsert_contacts(db, database, [{"id": "seed"}])
    await track_events(db, database, [{"contact": "seed", "type": event_type,
                                       "time": "2000-01-01T00:00:00Z"}
                                      for event_type in EVENT_TYPES])


async def _check(db, database, segments, now):
    for segment in segments:
        prepared = await query.prepare_segment(db, segment, now=now)
        expected = sorted([row["id"] async for row in query.members(prepared)])
        live_members = await member_ids(db, segment.id)
        assert live_members == expected, (segment.expression, now)
        replayed: set[str] = set()
        for change in await changes_after(db, segment.id, 0, 100_000):
            if change.change == "entered":
                assert change.contact not in replayed
                replayed.add(change.contact)
            else:
                assert change.contact in replayed
                replayed.discard(change.contact)
        assert sorted(replayed) == live_members


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(exprs=st.lists(expressions, min_size=3, max_size=3),
       combine=st.sampled_from(["and", "or", "and not"]),
       capped=st.sampled_from([None, (0, 100, 2), (20, 80, None)]),
       stream=steps)
def test_live_membership_equals_fresh_evaluation(live, exprs, combine, capped, stream,
                                                 long_retention):
    runner, store, counter = live
    db = store.db
    database = f"live{next(counter)}"
    runner.run(_prepare(db, database))
    schema = runner.run(load_schema(db, database))
    assume(not any(check(expr, schema) for expr in exprs))
    now = NOW
    clock.set_frozen(now)
    try:
        runner.run(_run(db, database, exprs, combine, capped, stream, now))
    finally:
        clock.set_frozen(None)


async def _run(db, database, exprs, combine, capped, stream, now):
    first = await create_segment(db, name="S0", json=None, expression=format_expression(exprs[0]),
                                 database=database, actor="test")
    reference = ast.Not(ast.InSegment("S0")) if combine == "and not" else ast.InSegment("S0")
    if isinstance(exprs[1], ast.MatchAll):
        referring = reference
    else:
        referring = (ast.Or if combine == "or" else ast.And)((exprs[1], reference))
    second = await create_segment(db, name="S1", expression=format_expression(referring),
                                  database=database, actor="test")
    settings = {} if capped is None else {"range_from": capped[0], "range_to": capped[1],
                                          "maximum": capped[2]}
    third = await create_segment(db, name="S2", expression=format_expression(exprs[2]),
                                 database=database, actor="test", **settings)
    segments = [first, second, third]
    await _check(db, database, segments, now)
    for step in stream:
        kind = step[0]
        if kind == "contacts":
            await upsert_contacts(db, database, step[1])
        elif kind == "events":
            await track_events(db, database, [
                {"contact": row["contact"], "type": row["type"],
                 "time": iso(now + row["offset"]), "attributes": row["attributes"]}
                for row in step[1]])
        elif kind in ("add", "remove"):
            change = add_to_list if kind == "add" else remove_from_list
            await change(db, database, step[1], step[2])
        else:
            now = now + step[1]
            await sweep(db, now=now, database=database)
            clock.set_frozen(now)
        await _check(db, database, segments, now)
