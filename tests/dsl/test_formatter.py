"""The canonical text form: the identity corpus, alias collapsing, and the printing rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dsl import ast
from dsl.errors import SegmentSyntaxError
from dsl.formatter import format_expression, format_name, keywords
from dsl.parser import parse

CORPUS = [line for line in Path(__file__).with_name("corpus.txt").read_text("utf-8").splitlines()
          if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("line", CORPUS)
def test_corpus_line_is_canonical(line):
    assert format_expression(parse(line)) == line


@pytest.mark.parametrize(("text", "canonical"), [
    ("Age equals 3", "Age = 3"),
    ("City = 'x'", 'City equals "x"'),
    ("Age not equals 3", "Age != 3"),
    ("Age is not equal to 3", "Age != 3"),
    ("City != 'x'", 'City is not equal to "x"'),
    ("City not equals 'x'", 'City is not equal to "x"'),
    ("City does not contain 'x'", "City doesn't contain \"x\""),
    ("City doesn\u2019t contain 'x'", "City doesn't contain \"x\""),
    ("all of (A has value, B has value, C has value)",
     "A has value and B has value and C has value"),
    ("any of (A has value, B has value)", "A has value or B has value"),
    ("all of (A has value)", "A has value"),
    ("any of (A has value, all of (B has value, C has value))",
     "A has value or B has value and C has value"),
    ("A has value or (B has value and C has value)", "A has value or B has value and C has value"),
    ("(A has value)", "A has value"),
    ("((not (A has value)))", "not (A has value)"),
    ("not A has value", "not (A has value)"),
    ("not (in list 'VIP')", 'not in list "VIP"'),
    ("S in last 1 days", "S in last 1 day"),
    ("S in last 2 day", "S in last 2 days"),
    ("S equals 1 days ago", "S equals 1 day ago"),
    ("S equals 2 HOUR AGO", "S equals 2 hours ago"),
    ("S equals 2024-05-01 10:00", "S equals 2024-05-01T10:00:00Z"),
    ("S equals 2024-05-01t10:00:00.5z", "S equals 2024-05-01T10:00:00.500Z"),
    ("S equals 2024-05-01T10:00:00.123456Z", "S equals 2024-05-01T10:00:00.123Z"),
    ("S equals 2024-05-01T12:00:00+02:00", "S equals 2024-05-01T10:00:00Z"),
    ("S equals TODAY", "S equals today"),
    ("CITY EQUALS 'x' AND AGE > 1 OR NOT IN LIST 'v'",
     'CITY equals "x" and AGE > 1 or not in list "v"'),
    ("Age = 1.50", "Age = 1.5"),
    ("Age = 1E3", "Age = 1000.0"),
    ("Age = -0", "Age = 0"),
    ("`City` has value", "City has value"),
    ("`a\\tb` has value", "`a\\tb` has value"),
    ("C equals 'it\\'s \"x\"'", 'C equals "it\'s \\"x\\""'),
    ("C equals '\\u00e9\\/\\0'", 'C equals "\u00e9/\\u0000"'),
    ("C equals '\\ud83d\\ude00'", 'C equals "\U0001f600"'),
    ("event X occurred at least 1 times", "event X occurred at least 1 time"),
    ("event X occurred exactly 2 time", "event X occurred exactly 2 times"),
    ("event X occurred where (price > 1)", "event X occurred where price > 1"),
    ("event PageVisit occurred where url contains 'x'", 'visited url contains "x"'),
    ("visited URL contains 'x'", 'visited url contains "x"'),
    ("Visited url contains 'x' IN LAST 7 DAY", 'visited url contains "x" in last 7 days'),
    ("event MailClick OCCURRED", "event MailClick occurred"),
    ("  City has value  ", "City has value"),
])
def test_aliases_format_to_the_canonical_text(text, canonical):
    assert format_expression(parse(text)) == canonical


def test_no_conditions_is_the_empty_text():
    assert format_expression(ast.MatchAll()) == ""
    assert parse("  ") == ast.MatchAll()


def test_a_nested_match_all_has_no_text():
    with pytest.raises(TypeError):
        format_expression(ast.Not(ast.MatchAll()))


def city(value="x"):
    return ast.Compare("City", ast.CompareOp.EQUALS, ast.String(value))


@pytest.mark.parametrize(("expr", "text"), [
    (ast.And((ast.Or((city("a"), city("b"))), city("c"))),
     '(City equals "a" or City equals "b") and City equals "c"'),
    (ast.Or((ast.Or((city("a"), city("b"))), city("c"))),
     '(City equals "a" or City equals "b") or City equals "c"'),
    (ast.Or((city("a"), ast.And((city("b"), city("c"))))),
     'City equals "a" or City equals "b" and City equals "c"'),
    (ast.Not(ast.InSegment("S")), 'not in segment "S"'),
    (ast.Not(ast.Not(ast.InList("V"))), 'not (not in list "V")'),
    (ast.Compare("T", ast.CompareOp.EQUALS, ast.Timestamp(
        dt.datetime(2024, 5, 1, 12, 0, 0, 5000, tzinfo=dt.timezone(dt.timedelta(hours=2))))),
     "T equals 2024-05-01T10:00:00.005Z"),
    (ast.Compare("T", ast.CompareOp.AFTER, ast.Day(dt.date(1, 2, 3))), "T after 0001-02-03"),
    (ast.Compare("N", ast.CompareOp.LT, ast.Number(1e300)), "N < 1e+300"),
    (ast.EventCondition("PageVisit", True, where=ast.HasValue("url", True)),
     "visited url has value"),
    (ast.EventCondition("PageVisit", False, where=ast.HasValue("url", True)),
     "event PageVisit did not occur where url has value"),
    (ast.EventCondition("PageVisit", True, where=ast.Not(ast.HasValue("url", True))),
     "event PageVisit occurred where not (url has value)"),
    (ast.EventCondition("X", True, where=ast.Or((ast.HasValue("a", True), city()))),
     'event X occurred where (a has value or City equals "x")'),
])
def test_printing_rules(expr, text):
    assert format_expression(expr) == text
    assert parse(text) == expr


@pytest.mark.parametrize(("value", "text"), [
    ("\u2028", '"\\u2028"'),          # a line separator, shown rather than breaking the line
    ("\u00a0", '"\\u00a0"'),          # a no-break space is invisible
    ("\x01", '"\\u0001"'),
    ("\U000e0001", '"\\udb40\\udc01"'),  # an invisible character beyond the BMP: a pair
    ("\u00e9\U0001f600", '"\u00e9\U0001f600"'),  # printable characters stay themselves
    ("`", '"`"'),
])
def test_string_escapes(value, text):
    expr = ast.Compare("C", ast.CompareOp.EQUALS, ast.String(value))
    assert format_expression(expr) == f"C equals {text}"
    assert parse(format_expression(expr)) == expr


def test_name_quoting():
    assert format_name("City") == "City"
    assert format_name("Customer Status") == "`Customer Status`"
    assert format_name('a"b`c\\d\ne') == '`a"b\\`c\\\\d\\ne`'
    assert format_name("Kraków") == "`Kraków`"


def test_keywords_come_from_the_grammar():
    assert {"and", "or", "not", "value", "visited", "days", "today", "exactly"} <= keywords()
    assert all(word.isalpha() and word.islower() for word in keywords())


@pytest.mark.parametrize("word", sorted(keywords()))
def test_every_keyword_is_reserved_and_quoted(word):
    for spelling in (word, word.upper(), word.title()):
        with pytest.raises(SegmentSyntaxError):
            parse(f"{spelling} has value")
        assert format_name(spelling) == f"`{spelling}`"
        assert parse(f"{format_name(spelling)} has value") == ast.HasValue(spelling, True)
