"""Every construct of SPEC §2 parses to the expected AST; keywords, spans, precedence, where."""

from __future__ import annotations

import datetime as dt

import pytest

from dsl import ast
from dsl.ast import (Ago, And, BeforeWindow, Between, BetweenWindow, Compare, Count, CountOp,
                     Day, EventCondition, HasValue, InList, InLast, InSegment, InValues,
                     IsBool, LastWindow, MatchAll, Not, Number, Or, SinceWindow, String,
                     Timestamp, Today, Unit)
from dsl.errors import SegmentSyntaxError
from dsl.parser import parse

C = ast.CompareOp
UTC = dt.timezone.utc


def cmp(field, op, value):
    return Compare(field, op, value)


# --- field conditions, every operator and alias ---------------------------------------------

@pytest.mark.parametrize("text, op", [
    ('City equals "x"', C.EQUALS),
    ('City = "x"', C.EQUALS),
    ('City is not equal to "x"', C.NOT_EQUALS),
    ('City != "x"', C.NOT_EQUALS),
    ('City not equals "x"', C.NOT_EQUALS),
    ('City starts with "x"', C.STARTS_WITH),
    ('City ends with "x"', C.ENDS_WITH),
    ('City contains "x"', C.CONTAINS),
    ('City doesn\'t contain "x"', C.NOT_CONTAINS),
    ('City doesn\u2019t contain "x"', C.NOT_CONTAINS),
    ('City does not contain "x"', C.NOT_CONTAINS),
])
def test_text_operators(text, op):
    assert parse(text) == cmp("City", op, String("x"))


@pytest.mark.parametrize("text, op", [
    ("Age = 5", C.EQUALS), ("Age != 5", C.NOT_EQUALS), ("Age > 5", C.GT),
    ("Age >= 5", C.GTE), ("Age < 5", C.LT), ("Age <= 5", C.LTE),
])
def test_number_operators(text, op):
    assert parse(text) == cmp("Age", op, Number(5))


def test_between_in_not_in():
    assert parse("Age between 18 and 30") == Between("Age", Number(18), Number(30))
    assert parse('City in ("a", "b")') == InValues("City", (String("a"), String("b")))
    assert parse("Age not in (1, 2.5)") == InValues("Age", (Number(1), Number(2.5)), True)
    assert parse('City in ("a")') == InValues("City", (String("a"),))


def test_value_and_boolean_conditions():
    assert parse("City has value") == HasValue("City", True)
    assert parse("City has no value") == HasValue("City", False)
    assert parse("Newsletter is true") == IsBool("Newsletter", True)
    assert parse("Newsletter is false") == IsBool("Newsletter", False)


@pytest.mark.parametrize("text, op", [
    ("Signup equals 2024-05-01", C.EQUALS), ("Signup is not equal to 2024-05-01", C.NOT_EQUALS),
    ("Signup not equals 2024-05-01", C.NOT_EQUALS), ("Signup before 2024-05-01", C.BEFORE),
    ("Signup after 2024-05-01", C.AFTER),
])
def test_date_operators(text, op):
    assert parse(text) == cmp("Signup", op, Day(dt.date(2024, 5, 1)))


@pytest.mark.parametrize("word, unit", [
    ("hour", Unit.HOURS), ("hours", Unit.HOURS), ("day", Unit.DAYS), ("days", Unit.DAYS),
    ("week", Unit.WEEKS), ("weeks", Unit.WEEKS), ("month", Unit.MONTHS), ("months", Unit.MONTHS),
])
def test_units_in_last_and_ago(word, unit):
    assert parse(f"Signup in last 2 {word}") == InLast("Signup", 2, unit)
    assert parse(f"Signup after 2 {word} ago") == cmp("Signup", C.AFTER, Ago(2, unit))
    assert parse(f"event E occurred in last 2 {word}") == EventCondition(
        "E", window=LastWindow(2, unit))


# --- literals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("literal, value", [
    ('"Krakow"', "Krakow"),
    ("'Krakow'", "Krakow"),
    ('"it\'s"', "it's"),
    ("'say \"hi\"'", 'say "hi"'),
    (r'"a\"b"', 'a"b'),
    (r"'a\'b'", "a'b"),
    (r'"back\\slash"', "back\\slash"),
    (r'"tab\tnew\nline"', "tab\tnew\nline"),
    (r'"\u00e9t\u00E9"', "été"),
    (r'"\ud83d\ude00"', "\U0001F600"),
    ('""', ""),
    ('"Zürich 東京"', "Zürich 東京"),
])
def test_strings_and_escapes(literal, value):
    assert parse(f"City = {literal}") == cmp("City", C.EQUALS, String(value))


@pytest.mark.parametrize("literal, value", [
    ("0", 0), ("42", 42), ("-7", -7), ("3.25", 3.25), ("-0.5", -0.5), ("1e3", 1000.0),
    ("2.5E-1", 0.25), (str(2**53 - 1), 2**53 - 1), (str(-(2**53 - 1)), -(2**53 - 1)),
])
def test_numbers(literal, value):
    node = parse(f"Age = {literal}").value
    assert node == Number(value) and type(node.value) is type(value)


@pytest.mark.parametrize("literal, value", [
    ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01t10:00:00z", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00Z", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00:00", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),  # no zone: UTC
    ("2024-05-01T12:30:00+02:00", dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
    ("2024-05-01T05:00:00-0500", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    # kept to the millisecond, like MongoDB
    ("2024-05-01T10:00:00.123456Z", dt.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ("2024-05-01T10:00:00.5Z", dt.datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
])
def test_timestamps_are_utc_milliseconds(literal, value):
    node = parse(f"Signup after {literal}").value
    assert node == Timestamp(value)
    assert node.value.utcoffset() == dt.timedelta(0)


def test_days_today_and_ago():
    assert parse("Signup = 2024-02-29").value == Day(dt.date(2024, 2, 29))
    assert parse("Signup = today").value == Today()
    assert parse("Signup before 3 days ago").value == Ago(3, Unit.DAYS)
    assert parse("Signup before 0 days ago").value == Ago(0, Unit.DAYS)


# --- event conditions -----------------------------------------------------------------------------

def test_spec_event_examples():
    day = Day(dt.date(2024, 1, 1))
    assert parse("event MailClick occurred") == EventCondition("MailClick")
    assert parse("event MailOpen did not occur") == EventCondition("MailOpen", occurred=False)
    assert parse("event MailClick occurred in last 30 days") == EventCondition(
        "MailClick", window=LastWindow(30, Unit.DAYS))
    assert parse("event MailClick occurred at least 3 times in last 30 days") == EventCondition(
        "MailClick", count=Count(CountOp.AT_LEAST, 3), window=LastWindow(30, Unit.DAYS))
    assert parse("event MailOpen did not occur since 2024-01-01") == EventCondition(
        "MailOpen", occurred=False, window=SinceWindow(day))
    assert parse("event product_purchased occurred where price > 100") == EventCondition(
        "product_purchased", where=cmp("price", C.GT, Number(100)))
    assert parse('event product_purchased occurred at least 2 times in last 90 days where '
                 '(price > 50 and category equals "shoes")') == EventCondition(
        "product_purchased", count=Count(CountOp.AT_LEAST, 2), window=LastWindow(90, Unit.DAYS),
        where=And((cmp("price", C.GT, Number(50)), cmp("category", C.EQUALS, String("shoes")))))
    assert parse('visited url contains "/pricing" in last 7 days') == EventCondition(
        "PageVisit", window=LastWindow(7, Unit.DAYS),
        where=cmp("url", C.CONTAINS, String("/pricing")))


@pytest.mark.parametrize("text, count", [
    ("at least 3 times", Count(CountOp.AT_LEAST, 3)),
    ("at most 0 times", Count(CountOp.AT_MOST, 0)),
    ("exactly 1 time", Count(CountOp.EXACTLY, 1)),
    ("exactly 1 times", Count(CountOp.EXACTLY, 1)),
])
def test_counts(text, count):
    assert parse(f"event E occurred {text}") == EventCondition("E", count=count)


@pytest.mark.parametrize("text, window", [
    ("in last 1 hour", LastWindow(1, Unit.HOURS)),
    ("since 2024-01-01", SinceWindow(Day(dt.date(2024, 1, 1)))),
    ("since 2 weeks ago", SinceWindow(Ago(2, Unit.WEEKS))),
    ("before today", BeforeWindow(Today())),
    ("before 2024-01-01T00:00:00Z", BeforeWindow(Timestamp(dt.datetime(2024, 1, 1, tzinfo=UTC)))),
    ("between 2024-01-01 and 2024-01-31",
     BetweenWindow(Day(dt.date(2024, 1, 1)), Day(dt.date(2024, 1, 31)))),
])
def test_windows(text, window):
    assert parse(f"event E occurred {text}") == EventCondition("E", window=window)
    assert parse(f"event E did not occur {text}") == EventCondition(
        "E", occurred=False, window=window)


def test_did_not_occur_with_where_and_visited_with_count():
    assert parse('event E did not occur in last 2 days where plan = "pro"') == EventCondition(
        "E", occurred=False, window=LastWindow(2, Unit.DAYS),
        where=cmp("plan", C.EQUALS, String("pro")))
    assert parse('VISITED URL starts with "/docs" at least 2 times') == EventCondition(
        "PageVisit", count=Count(CountOp.AT_LEAST, 2),
        where=cmp("url", C.STARTS_WITH, String("/docs")))


def test_back_quoted_event_type_and_attribute():
    assert parse("event `order completed` occurred where `item count` >= 2") == EventCondition(
        "order completed", where=cmp("item count", C.GTE, Number(2)))


# --- memberships, groups, empty -------------------------------------------------------------------

def test_memberships():
    assert parse('in list "VIP"') == InList("VIP")
    assert parse('not in list "VIP"') == Not(InList("VIP"))
    assert parse("in segment 'Active users'") == InSegment("Active users")


def test_all_of_any_of():
    a, b, c = (cmp(name, C.EQUALS, Number(1)) for name in "abc")
    assert parse("all of (a = 1, b = 1, c = 1)") == And((a, b, c))
    assert parse("any of (a = 1, b = 1)") == Or((a, b))
    assert parse("all of (a = 1)") == a
    assert parse("any of (all of (a = 1, b = 1), c = 1)") == Or((And((a, b)), c))
    assert parse("all of (a = 1 or b = 1, c = 1)") == And((Or((a, b)), c))


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_expression_matches_all(text):
    assert parse(text) == MatchAll()


# --- keywords ------------------------------------------------------------------------------------

def test_keywords_are_case_insensitive():
    assert parse('EVENT MailClick OCCURRED AT LEAST 2 TIMES IN LAST 3 DAYS WHERE url CONTAINS "x"'
                 ) == parse('event MailClick occurred at least 2 times in last 3 days where url '
                            'contains "x"')
    assert parse("A = 1 AND B = 2 Or NOT C Has No Value") == Or((
        And((cmp("A", C.EQUALS, Number(1)), cmp("B", C.EQUALS, Number(2)))),
        Not(HasValue("C", False))))
    assert parse("Newsletter IS TRUE") == IsBool("Newsletter", True)
    assert parse("All Of (a = 1, b = 2)") == parse("all of (a = 1, b = 2)")
    assert parse("d = TODAY") == parse("d = today")


def test_field_names_keep_their_case():
    assert parse("city = 1") != parse("City = 1")
    assert parse("CITY = 1").field == "CITY"


@pytest.mark.parametrize("text", [
    "and equals 1", "value has value", "last = 1", "Event = 1", "in = 1", "TRUE is true",
    "today = 1", "between = 1", "days = 1",
])
def test_a_keyword_is_never_a_field_name(text):
    with pytest.raises(SegmentSyntaxError):
        parse(text)


@pytest.mark.parametrize("text, field", [
    ("`and` equals 1", "and"), ("`value` has value", "value"), ("`Event` = 1", "Event"),
    ('`Customer Status` equals "gold"', "Customer Status"), ("`a\\`b` = 1", "a`b"),
    ("`Stadt/Ort` = 1", "Stadt/Ort"), ("`Größe` > 1", "Größe"),
])
def test_back_quoted_names(text, field):
    assert parse(text).field == field


def test_names_may_contain_keywords_and_underscores():
    assert parse("order_count > 1").field == "order_count"
    assert parse("android = 1").field == "android"  # starts with `and`
    assert parse("_x = 1").field == "_x"


# --- precedence and grouping ----------------------------------------------------------------------

A, B, Cc = (cmp(name, C.EQUALS, Number(1)) for name in "abc")


@pytest.mark.parametrize("text, tree", [
    ("a = 1 or b = 1 and c = 1", Or((A, And((B, Cc))))),
    ("a = 1 and b = 1 or c = 1", Or((And((A, B)), Cc))),
    ("not a = 1 and b = 1", And((Not(A), B))),
    ("not a = 1 or b = 1", Or((Not(A), B))),
    ("not (a = 1 or b = 1)", Not(Or((A, B)))),
    ("not not a = 1", Not(Not(A))),
    ("(a = 1 or b = 1) and c = 1", And((Or((A, B)), Cc))),
    ("a = 1 and b = 1 and c = 1", And((A, B, Cc))),
    ("a = 1 and (b = 1 and c = 1)", And((A, And((B, Cc))))),
    ("((a = 1))", A),
])
def test_precedence(text, tree):
    assert parse(text) == tree


# --- where binding --------------------------------------------------------------------------------

P = cmp("price", C.GT, Number(1))
K = cmp("category", C.EQUALS, String("x"))


@pytest.mark.parametrize("text, tree", [
    ('event E occurred where price > 1 and category = "x"',
     And((EventCondition("E", where=P), K))),
    ('event E occurred where (price > 1 and category = "x")',
     EventCondition("E", where=And((P, K)))),
    ('event E occurred where price > 1 or category = "x"',
     Or((EventCondition("E", where=P), K))),
    ('event E occurred where not price > 1 and category = "x"',
     And((EventCondition("E", where=Not(P)), K))),
    ('event E occurred where (price > 1 or category = "x") and category = "x"',
     And((EventCondition("E", where=Or((P, K))), K))),
    ('not event E occurred where price > 1', Not(EventCondition("E", where=P))),
    ('visited url = "x" and category = "x"',
     And((EventCondition("PageVisit", where=cmp("url", C.EQUALS, String("x"))), K))),
])
def test_where_binding(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("text", [
    'event E occurred where (in list "VIP")',
    "event E occurred where (a = 1 and event F occurred)",
    "event E occurred where (in segment 'x')",
])
def test_where_takes_only_attribute_conditions(text):
    with pytest.raises(SegmentSyntaxError, match="only event attribute conditions"):
        parse(text)


# --- spans ---------------------------------------------------------------------------------------

def _text(source, node):
    return source[node.span.start:node.span.end]


def test_spans_of_nodes():
    source = 'City = "Krakow" and\n  not `Age Years` between 18 and 30'
    tree = parse(source)
    first, negation = tree.operands
    assert _text(source, tree) == source
    assert (tree.span.line, tree.span.column, tree.span.end_line, tree.span.end_column) == (
        1, 1, 2, 36)  # end_column: one past the last character
    assert _text(source, first) == 'City = "Krakow"'
    assert _text(source, first.value) == '"Krakow"'
    assert (first.value.span.line, first.value.span.column) == (1, 8)
    assert _text(source, negation) == "not `Age Years` between 18 and 30"
    assert (negation.span.line, negation.span.column) == (2, 3)
    assert _text(source, negation.operand) == "`Age Years` between 18 and 30"
    assert _text(source, negation.operand.high) == "30"


def test_spans_of_event_parts():
    source = "event E occurred at least 2 times in last 3 days where (price > 1)"
    node = parse(source)
    assert _text(source, node) == source.rstrip(")")  # ends at the condition's end
    assert _text(source, node.count) == "at least 2 times"
    assert _text(source, node.window) == "in last 3 days"
    assert _text(source, node.where) == "price > 1"
    source = "Signup before 3 days ago"
    assert _text(source, parse(source).value) == "3 days ago"


def test_parenthesised_and_group_spans():
    source = "(a = 1)"
    assert _text(source, parse(source)) == "a = 1"
    source = "all of (a = 1, b = 2)"
    assert _text(source, parse(source)) == source


def test_spans_do_not_take_part_in_equality():
    assert parse("a = 1") == parse("   a   =   1")
    assert parse("a = 1").span != parse("   a   =   1").span
