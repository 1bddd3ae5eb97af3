"""The semi-join form of event conditions: what `event_count_queries` asks the events
collection, and how `compile_segment` uses the counts it gets back. (That the counted and
the joined forms select the same contacts as the reference evaluator is proven on the store:
tests/store/test_constructs.py and test_differential.py run both.)"""

from __future__ import annotations

import datetime as dt

from dsl.compiler import compile_segment, event_count_queries
from dsl.parser import parse
from tests.dsl.test_compiler_golden import SCHEMA

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
WINDOW = {"$gte": dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.timezone.utc), "$lte": NOW}
GROUP = {"$group": {"_id": "$contact", "n": {"$sum": 1}}}


def queries(text: str):
    return event_count_queries(parse(text), SCHEMA, database="main", now=NOW)


def test_the_indexed_keys_lead_and_where_follows_in_its_own_stage() -> None:
    [counted] = queries("event MailClick occurred at least 3 times in last 30 days")
    assert counted.pipeline == [
        {"$match": {"database": "main", "type": "MailClick", "time": WINDOW}}, GROUP]
    [where] = queries('event Purchase occurred where (price > 100 and sku equals "A")')
    assert where.pipeline == [
        {"$match": {"database": "main", "type": "Purchase"}},
        {"$match": {"attributes.price": {"$gt": 100}, "folded.sku": "a"}}, GROUP]
    # summary-answered conditions need no events at all
    assert queries('event MailClick occurred since 2024-05-01 and City equals "x"') == []


def test_counts_become_id_tests_and_no_join_is_left() -> None:
    expr = parse("event MailClick occurred at least 2 times in last 30 days and Age > 3")
    [counted] = event_count_queries(expr, SCHEMA, database="main", now=NOW)
    pipeline = compile_segment(expr, SCHEMA, database="main", now=NOW, events_collection="events",
                               event_counts={counted.index: {"main:b": 2, "main:a": 5,
                                                             "main:c": 1}})
    assert pipeline == [{"$match": {"_id": {"$in": ["main:a", "main:b"]}}},
                        {"$match": {"database": "main", "fields.Age": {"$gt": 3}}}]


def test_a_count_that_zero_satisfies_excludes_the_others() -> None:
    expr = parse("event MailClick occurred at most 1 times in last 30 days")
    [counted] = event_count_queries(expr, SCHEMA, database="main", now=NOW)
    pipeline = compile_segment(expr, SCHEMA, database="main", now=NOW, events_collection="events",
                               event_counts={counted.index: {"main:a": 1, "main:b": 2}})
    assert pipeline == [{"$match": {"database": "main",
                                    "$nor": [{"_id": {"$in": ["main:b"]}}]}}]


def test_counted_and_joined_conditions_mix() -> None:
    expr = parse("event A occurred at least 2 times in last 30 days or "
                 "event B occurred where x = 1")
    first, second = event_count_queries(expr, SCHEMA, database="main", now=NOW)
    pipeline = compile_segment(expr, SCHEMA, database="main", now=NOW, events_collection="events",
                               event_counts={second.index: {"main:z": 1}})
    lookups = [stage["$lookup"] for stage in pipeline if "$lookup" in stage]
    assert len(lookups) == 1 and lookups[0]["pipeline"][0]["$match"]["type"] == "A"
    assert {"_id": {"$in": ["main:z"]}} in pipeline[-2]["$match"]["$or"]
