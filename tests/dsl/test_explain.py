"""Explain: the tree mirrors the expression and always agrees with the reference evaluator."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dsl import ast
from dsl.evaluator import evaluate
from dsl.explain import ExplainKind, explain, show_value
from dsl.parser import parse
from tests.dsl.strategies import typed_expressions
from tests.store.oracle import (ATTRIBUTE_VALUES, ATTRIBUTES, EVENT_TYPES, FIELD_VALUES, FIELDS,
                                LISTS, NOW, TIMES, oracle_data)

UTC = dt.timezone.utc

contacts = st.lists(st.fixed_dictionaries({}, optional={
    name: st.sampled_from(values) for name, values in FIELD_VALUES.items()}), min_size=1, max_size=5)
memberships = st.lists(st.lists(st.sampled_from(LISTS), unique=True, max_size=2), max_size=5)
events = st.lists(st.fixed_dictionaries(
    {"contact": st.integers(0, 4), "type": st.sampled_from(EVENT_TYPES),
     "time": st.sampled_from(TIMES),
     "attributes": st.fixed_dictionaries({}, optional={
         name: st.sampled_from(values) for name, values in ATTRIBUTE_VALUES.items()})}),
    max_size=12)
nows = st.sampled_from([NOW, NOW + dt.timedelta(days=3), dt.datetime(2024, 5, 1, 12, tzinfo=UTC)])


def _nodes(expr):
    """Every node explain makes a tree node of, in the tree's depth-first order."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.And, ast.Or)):
            stack.extend(reversed(node.operands))
        elif isinstance(node, ast.Not):
            stack.append(node.operand)


zones = st.sampled_from([UTC, ZoneInfo("Europe/Warsaw"), ZoneInfo("Pacific/Kiritimati")])


@given(st.lists(typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS), min_size=3, max_size=3),
       contacts, memberships, events, nows, zones)
def test_explain_agrees_with_evaluate_at_every_node(exprs, people, lists, rows, now, zone) -> None:
    typed_contacts, typed_events = oracle_data(people, lists, [
        dict(row, contact=f"c{row['contact']}") for row in rows])
    for expr in exprs:
        for person in typed_contacts:
            own = [event for event in typed_events if event["contact"] == person["id"]]
            tree = explain(expr, person, own, now, zone=zone)
            assert tree.held == evaluate(expr, person, own, now, zone=zone)
            explained = list(tree.walk())
            nodes = list(_nodes(expr))
            assert len(explained) == len(nodes)
            for node, part in zip(nodes, explained):
                assert part.held == evaluate(node, person, own, now, zone=zone), (node, part)
                assert part.span == node.span


def test_a_tree_with_values_counts_and_windows() -> None:
    text = ('City equals "Krakow" and (Age > 40 or not in list "VIP") and '
            'event MailClick occurred at least 2 times in last 7 days where campaign equals "x"')
    contact = {"id": "c1", "fields": {"City": "KRAKOW", "Age": 31}, "lists": ["VIP"]}
    now = dt.datetime(2024, 6, 1, 12, tzinfo=UTC)
    clicks = [{"type": "MailClick", "time": now - dt.timedelta(days=d),
               "attributes": {"campaign": c}} for d, c in ((1, "x"), (2, "y"), (10, "x"))]
    tree = explain(parse(text), contact, clicks + [{"type": "MailOpen", "time": now}], now)
    assert tree.kind is ExplainKind.AND and not tree.held
    city, group, event = tree.children
    assert (city.kind, city.held, city.field, city.value, city.value_text) == (
        ExplainKind.FIELD, True, "City", "KRAKOW", '"KRAKOW"')
    assert city.text == 'City equals "Krakow"'
    assert group.kind is ExplainKind.OR and not group.held
    age, not_vip = group.children
    assert (age.held, age.value_text) == (False, "31")
    assert not_vip.kind is ExplainKind.NOT and not_vip.text == 'not in list "VIP"'
    assert not_vip.children[0].kind is ExplainKind.LIST and not_vip.children[0].held
    assert event.kind is ExplainKind.EVENT and not event.held
    assert (event.event_type, event.events, event.in_window, event.matching) == ("MailClick", 3, 2, 1)
    assert (event.window_start, event.window_end) == (now - dt.timedelta(days=7), now)
    assert event.window_start_inclusive and event.window_end_inclusive


def test_no_value_dates_and_the_empty_expression() -> None:
    now = dt.datetime(2024, 6, 1, 12, tzinfo=UTC)
    tree = explain(parse("Signup before 2024-05-01 or Email has no value"),
                   {"id": "c", "fields": {"Email": ""}}, [], now)
    signup, email = tree.children
    assert (signup.held, signup.value, signup.value_text) == (False, None, "no value")
    assert signup.window_start is None
    assert signup.window_end == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert not signup.window_end_inclusive
    assert (email.held, email.value_text) == (True, '"" (empty: no value)')
    everyone = explain(parse(""), {"id": "c"}, [], now)
    assert everyone.kind is ExplainKind.EVERYONE and everyone.held
    assert show_value(dt.datetime(2024, 5, 1, 10, tzinfo=UTC)) == "2024-05-01T10:00:00Z"
    assert show_value(True) == "true" and show_value(2.5) == "2.5"


def test_in_segment_shows_the_definition() -> None:
    expr = parse('in segment "Buyers" and not in segment "Buyers"')
    definition = parse("event product_purchased occurred")
    contact = {"id": "c"}
    purchase = [{"type": "product_purchased", "time": NOW, "attributes": {}}]
    tree = explain(expr, contact, purchase, NOW, segments={"Buyers": definition})
    buyers, not_buyers = tree.children
    assert buyers.kind is ExplainKind.SEGMENT and buyers.name == "Buyers" and buyers.held
    assert buyers.children[0].kind is ExplainKind.EVENT and buyers.children[0].matching == 1
    assert not not_buyers.held and not tree.held
    try:
        explain(expr, contact, [], NOW)
    except ValueError as error:
        assert "Buyers" in str(error)
    else:
        raise AssertionError("an in segment without its definition is an error")


def test_deep_trees() -> None:
    deep = parse("not (" * 99 + "Age > 1" + ")" * 99)
    tree = explain(deep, {"id": "c", "fields": {"Age": 2}}, [], NOW)
    assert tree.held is (99 % 2 == 0)


def test_totals_times_and_consent_show_their_values() -> None:
    contact = {"id": "c1", "fields": {"Email": "a@example.com"}, "lists": [],
               "suppression": {"email": "hard_bounce"}}
    events = [{"type": "product_purchased", "time": NOW - dt.timedelta(days=d),
               "attributes": {"price": price}}
              for d, price in ((1, 10), (2, 30), (40, 100), (3, "n/a"))]
    total = explain(parse("event product_purchased sum of price > 30 in last 30 days"), contact,
                    events, NOW)
    assert (total.kind, total.held, total.value, total.matching, total.in_window) == \
        (ExplainKind.TOTAL, True, 40, 3, 3)
    empty = explain(parse("event product_purchased average of price > 0 before 2000-01-01"),
                    contact, events, NOW)
    assert (empty.held, empty.value, empty.value_text) == (False, None, "no value")
    last = explain(parse("event product_purchased last occurred in last 7 days"), contact,
                   events, NOW)
    assert (last.kind, last.held, last.value) == (ExplainKind.EVENT_TIME, True,
                                                  NOW - dt.timedelta(days=1))
    consent = explain(parse("can receive email"), contact, [], NOW)
    assert (consent.kind, consent.held, consent.value_text) == (ExplainKind.CONSENT, False,
                                                                "hard_bounce")
