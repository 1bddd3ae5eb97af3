"""Fuzzing what a user controls: the language's text and JSON form, the GraphQL endpoint's
bodies and variables. Whatever comes in, the answer is never a 500 and never "Unexpected
error.": a wrong input gets a message. CI runs the `ci` profile; SEGMENTQL_HYPOTHESIS_PROFILE
=thorough runs ten times the examples."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.completion import complete
from dsl.diagnostics import diagnose
from dsl.errors import SegmentError, SegmentErrors
from dsl.formatter import format_expression
from dsl.json_codec import from_json
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType
from tests.graph.seed import load

SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter",
                                                                   FieldType.BOOLEAN)])
WORDS = ["City", "Age", "Signup", "Newsletter", "equals", "and", "or", "not", "(", ")", "\"",
         "'", "`", "event", "occurred", "in", "last", "days", "between", "9999-12-31",
         "0001-01-01", "today", "ago", "at", "least", "times", "where", "list", "segment",
         "1e400", "99999999999999999999999", "-1", "\ud800", "\udcff", "\x00", "😀", "\n"]
# any code point, lone surrogates included (they are what a JSON escape can produce)
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                 blacklist_categories=()), max_size=60)
language_text = st.one_of(
    any_text,
    st.lists(st.sampled_from(WORDS) | any_text.filter(lambda s: len(s) < 6), max_size=14)
    .map(" ".join))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["version", "condition", "field", "op", "value", "and",
                                       "or", "not", "event", "times", "window", "low",
                                       "high", "values"]) | any_text, inner, max_size=4),
    max_leaves=20)

_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])


@settings(**_SETTINGS)
@given(text=language_text, cursor=st.integers(0, 100))
def test_the_language_answers_any_text_with_a_result_or_a_language_error(text, cursor) -> None:
    try:
        formatted = format_expression(parse(text))
        assert format_expression(parse(formatted)) == formatted
    except (SegmentError, SegmentErrors):
        pass
    for diagnostic in diagnose(text, SCHEMA):
        assert diagnostic.message
    complete(text, min(cursor, len(text)))


@settings(**_SETTINGS)
@given(data=json_values)
def test_the_json_form_answers_any_json_with_a_result_or_a_json_error(data) -> None:
    try:
        format_expression(from_json(data))
    except (SegmentError, SegmentErrors):
        pass


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


OPERATIONS = [
    ("query($e: String!) { previewSegment(input: {expression: $e, maximum: 3}) "
     "{ count errors { message code } } }", "e"),
    ("query($e: String!) { parseSegment(expression: $e) { canonical errors { message } } }", "e"),
    ("query($e: String!) { diagnoseExpression(expression: $e) { diagnostics { message } "
     "errors { message } } }", "e"),
    ("query($e: String!) { completeExpression(expression: $e, offset: 0) { errors { message } } }",
     "e"),
    ("query($j: JSON) { previewSegment(input: {json: $j}) { count errors { message } } }", "j"),
    ("mutation($c: [ContactInput!]!) { upsertContacts(contacts: $c) { stored "
     "rejected { message } errors { message } } }", "c"),
    ("mutation($n: String!) { createSegment(input: {name: $n, expression: \"\"}) "
     "{ errors { message } } }", "n"),
    ("query($now: DateTime) { previewSegment(input: {expression: \"Signup in last 3 days\", "
     "now: $now}) { count errors { message } } }", "now"),
]
contact_rows = st.lists(st.fixed_dictionaries({"id": any_text | st.none()}, optional={
    "fields": st.dictionaries(st.sampled_from(["City", "Age", "Signup", "Newsletter", "X"]),
                              json_values, max_size=3),
    "lists": st.lists(any_text, max_size=2)}), min_size=1, max_size=3)


def _variable(name: str):
    if name == "c":
        return contact_rows
    if name == "j":
        return json_values
    if name == "now":
        return any_text | st.sampled_from(["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z",
                                           "0001-01-01T00:00:00+05:00"])
    return language_text


requests = st.sampled_from(OPERATIONS).flatmap(lambda op: st.tuples(
    st.just(op[0]), st.just(op[1]), _variable(op[1])))


def _body(query: str, name: str, value) -> bytes:
    # ensure_ascii: lone surrogates go as \ud800 escapes, as a JavaScript client sends them
    return json.dumps({"query": query, "variables": {name: value}}).encode()


@settings(**_SETTINGS)
@given(request=requests)
def test_the_endpoint_never_answers_500_or_unexpected_error(seeded, request) -> None:
    query, name, value = request
    response = seeded.post(_body(query, name, value))
    assert response.status_code in (200, 400, 413), response.text
    assert "Unexpected error" not in response.text, (query, value, response.text)


@settings(**_SETTINGS)
@given(body=st.binary(max_size=200) | any_text.map(lambda text: text.encode("utf-8",
                                                                              "surrogatepass")))
def test_any_body_is_answered_without_a_500(seeded, body) -> None:
    response = seeded.post(body)
    assert response.status_code in (200, 400, 413), response.text
    assert "Unexpected error" not in response.text
