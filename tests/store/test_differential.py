"""The compiled pipeline, run on the real embedded server, selects exactly the contacts the
reference evaluator selects: same count, same ids, same order, under range and maximum.

Data sets are drawn to hit the edges: missing fields, nulls, empty text, case variants,
events exactly on window boundaries and after `now`, duplicate event ids and shuffled
arrival. They go in through the store's own ingestion (upsert_contacts, track_events);
the oracle reads the same rows typed by the shared value rules, with the first copy of a
repeated event id winning, as the store promises.

`SEGMENTQL_HYPOTHESIS_PROFILE=thorough` runs thousands of examples instead of a few hundred.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.errors import SegmentErrors
from dsl.evaluator import select
from dsl.temporal import zone_of
from store import query
from store.fields import set_database_timezone
from store.query import planner as plan_module
from store.query.planner import ID_CHUNK, SEMI_JOIN_CONTACTS
from tests.dsl.strategies import typed_expressions
from tests.store.oracle import (ATTRIBUTE_VALUES, ATTRIBUTES, EVENT_TYPES, FIELD_VALUES, FIELDS,
                                LISTS, NOW, TIMES, load, oracle_data)

ADDRESSES = {"Email": ["anna@example.com", "", None], "MobilePhone": ["+48 600", "", None]}
contacts_strategy = st.lists(
    st.fixed_dictionaries({}, optional={
        name: st.sampled_from(values) for name, values in {**FIELD_VALUES, **ADDRESSES}.items()}),
    min_size=1, max_size=10)
consents_strategy = st.lists(st.fixed_dictionaries({}, optional={
    channel: st.sampled_from(["subscribed", "unsubscribed", None])
    for channel in ("email", "sms", "push")}), max_size=10)
# Consent events beside the conditions' own types: they set consent as they arrive.
CONSENT_EVENTS = st.fixed_dictionaries(
    {"contact": st.integers(0, 9), "type": st.sampled_from(["Unsubscribe", "HardBounce",
                                                            "SpamComplaint"]),
     "time": st.sampled_from(TIMES),
     "attributes": st.fixed_dictionaries({"channel": st.sampled_from(["email", "SMS", "push",
                                                                      "fax"])})})
memberships = st.lists(st.lists(st.sampled_from(LISTS), unique=True, max_size=2), max_size=10)
event_strategy = st.fixed_dictionaries(
    {"contact": st.integers(0, 9), "type": st.sampled_from(EVENT_TYPES),
     "time": st.sampled_from(TIMES),
     "attributes": st.fixed_dictionaries({}, optional={
         name: st.sampled_from(values) for name, values in ATTRIBUTE_VALUES.items()})},
    optional={"id": st.sampled_from([f"e{n}" for n in range(6)])})
selections = st.fixed_dictionaries({
    "range": st.sampled_from([(0, 100), (0, 50), (20, 70), (50, 100)]),
    "maximum": st.sampled_from([None, None, 0, 1, 3])})
expressions = typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS)


@pytest.fixture(scope="module")
def engine(sync_store):
    runner, store = sync_store
    return runner, store, itertools.count()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])
@given(contacts=contacts_strategy, lists=memberships, consents=consents_strategy,
       events=st.lists(event_strategy | CONSENT_EVENTS, max_size=16).flatmap(st.permutations),
       exprs=st.lists(expressions, min_size=4, max_size=4), selection=selections,
       semi_join_limit=st.sampled_from([SEMI_JOIN_CONTACTS, 1, -1]),
       id_chunk=st.sampled_from([ID_CHUNK, 1, 3]),
       timezone=st.sampled_from(["UTC", "Europe/Warsaw", "America/New_York", "Asia/Kolkata"]))
def test_pipeline_agrees_with_reference_evaluator(engine, contacts, lists, consents, events,
                                                  exprs, selection, semi_join_limit, id_chunk,
                                                  timezone):
    """`semi_join_limit`: the most contacts an event condition is counted for on the events
    side; 1 mixes counted and joined conditions in one pipeline, -1 joins them all.
    `id_chunk`: the counted contacts per part of a plan run as parts (1 and 3: these few
    contacts make several parts, read in more than one round). `timezone`: the database's,
    whose calendar days the day rules use."""
    runner, store, counter = engine
    database = f"d{next(counter)}"
    rows = runner.run(load(store, database, contacts, lists, events, consents))
    runner.run(set_database_timezone(store.db, database, timezone))
    typed_contacts, typed_events = oracle_data(contacts, lists, rows, consents)
    range_from, range_to = selection["range"]
    for expr in exprs:
        try:
            chosen = runner.run(query.prepare(store.db, database, parsed=expr, now=NOW,
                                              range_from=range_from, range_to=range_to,
                                              maximum=selection["maximum"]))
        except SegmentErrors:
            continue  # e.g. `between 5 and 1`, a list nobody has: refused, tested elsewhere
        expected = select(expr, database, typed_contacts, typed_events, NOW,
                          range_from=range_from, range_to=range_to, maximum=selection["maximum"],
                          zone=zone_of(timezone))

        async def run():
            count = await query.count(chosen)
            ids = [row["id"] async for row in query.members(chosen)]
            first = [row["id"] for row in await query.first(chosen, limit=2)]
            paged, after = [], None
            while True:  # pages of 3, each after the last key of the one before
                rows = await query.page(chosen, after=after, limit=3, projection={"id": 1})
                paged += [row["id"] for row in rows]
                if len(rows) < 3:
                    return count, ids, first, paged
                after = (rows[-1]["bucket"], rows[-1]["_id"])

        plan_module.SEMI_JOIN_CONTACTS, plan_module.ID_CHUNK = semi_join_limit, id_chunk
        try:
            count, ids, first, paged = runner.run(run())
        finally:
            plan_module.SEMI_JOIN_CONTACTS, plan_module.ID_CHUNK = SEMI_JOIN_CONTACTS, ID_CHUNK
        assert ids == expected, expr
        assert count == len(expected), expr
        assert first == expected[:2], expr
        assert paged == expected, expr
