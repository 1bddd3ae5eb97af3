"""Syntax errors name line and column, show the text with a caret, and say what was expected."""

from __future__ import annotations

import pytest

from dsl.errors import SegmentSyntaxError
from dsl.parser import parse


def error_of(text: str) -> SegmentSyntaxError:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    return caught.value


def test_missing_operator_after_field():
    error = error_of("City Krakow")
    assert (error.line, error.column, error.end_column) == (1, 6, 12)
    assert error.message.startswith(
        "expected an operator such as equals, contains, starts with")
    assert "after field City, but found 'Krakow'" in error.message
    assert error.snippet == "  City Krakow\n       ^^^^^^"
    assert str(error).startswith("line 1, column 6: expected an operator")
    assert str(error).endswith("  City Krakow\n       ^^^^^^")


def test_unquoted_text_value():
    error = error_of("City = Krakow")
    assert error.column == 8
    assert error.message.startswith('expected a value: "text", a number or a date')
    assert error.suggestion == 'put text values in quotes: "Krakow"'


@pytest.mark.parametrize("text, expected", [
    ("event MailClick", "expected occurred or did not occur after event MailClick"),
    ("a = 1 and", "expected a condition (a field name, event, visited, in list, in segment"),
    ("City equals", "expected a value"),
    ("(a = 1", "expected ')', but found the end of the expression"),
    ("a is 5", "expected 'false', 'not' or 'true', but found '5'"),
    ("a has", "expected 'no' or 'value', but found the end of the expression"),
    ("event X did occur", "expected 'not', but found 'occur'"),
    ("in VIP", "expected 'list' or 'segment'"),
    ("a between 1", "expected 'and'"),
    ("a = 3 days", "expected 'ago'"),
    ("all of a = 1", "expected '('"),
    ("event X occurred at least 3", "expected 'time' or 'times'"),
    ("event X occurred at 3", "expected 'least' or 'most'"),
    ("event X occurred since 5", "expected a unit: hours, days, weeks or months"),
    ("event X occurred x",
     "expected at least / at most / exactly N times, a time window (in last, since, before, "
     "between) or where, the end of the expression, 'and' or 'or'"),
    ("event X occurred in last 3 days x", "expected the end of the expression, 'and', 'or' or "
                                          "'where'"),
    ('visited url = "x" x', "at least / at most / exactly N times, a time window (in last, "
                            "since, before, between), the end of the expression"),
])
def test_expected_in_words(text, expected):
    assert expected in error_of(text).message


def test_only_what_can_really_follow_is_listed():
    # LALR merges states: after `a = 1` its raw table also lists event windows and counts.
    message = error_of("a = 1 b = 2").message
    assert "the end of the expression, 'and' or 'or', but found 'b'" in message
    assert "operator" not in message and "window" not in message and "','" not in message
    assert "')'" in error_of("(a = 1 b = 2)").message
    assert "','" in error_of("all of (a = 1 b)").message
    assert "operator" not in error_of("event MailClick x").message


def test_keyword_where_a_field_is_expected():
    error = error_of("and equals 1")
    assert (error.line, error.column) == (1, 1)
    assert error.suggestion == "and is a keyword; a field named so is written `and`"
    assert error_of("value has value").suggestion == (
        "value is a keyword; a field named so is written `value`")
    assert error_of("Days > 1").suggestion == "Days is a keyword; a field named so is written `Days`"


@pytest.mark.parametrize("text, column, message, hint", [
    ('City = "abc', 8, "this text is never closed", 'add the closing " on the same line'),
    ("City = 'abc", 8, "this text is never closed", "add the closing ' on the same line"),
    ('City = "ab\ncd"', 8, "this text is never closed", 'add the closing " on the same line'),
    ("`abc = 1", 1, "this back-quoted name is never closed", "add the closing `"),
])
def test_unterminated(text, column, message, hint):
    error = error_of(text)
    assert (error.line, error.column, error.message, error.suggestion) == (1, column, message,
                                                                          hint)


@pytest.mark.parametrize("literal, message", [
    (r'"a\q"', r'unknown escape \q in "a\q"'),
    (r'"a\u12"', r"unknown escape \u in"),
    (r'"\uD800"', r"holds an unpaired \uD800-\uDFFF escape"),
    (r'"\uDE00\uD83D"', r"holds an unpaired"),
])
def test_bad_escapes(literal, message):
    error = error_of(f"City = {literal}")
    assert message in error.message
    assert (error.line, error.column) == (1, 8)


def test_bad_escape_hint_lists_the_escapes():
    assert "\\uXXXX" in error_of(r'City = "\x41"').suggestion


@pytest.mark.parametrize("literal, message", [
    ("2024-02-30", "2024-02-30 is not a calendar date"),
    ("2023-02-29", "2023-02-29 is not a calendar date"),
    ("2024-13-01", "2024-13-01 is not a calendar date"),
    ("0000-01-01", "0000-01-01 is not a calendar date"),
    ("2024-05-01T25:00:00Z", "2024-05-01T25:00:00Z is not a valid time"),
    ("2024-05-01T10:61Z", "is not a valid time"),
    ("2024-05-01T10:00:00+25:00", "is not a valid time"),
    ("9999-12-31T23:00:00-05:00", "outside the years 1 to 9999 once converted to UTC"),
])
def test_invalid_dates(literal, message):
    error = error_of(f"Signup after {literal}")
    assert message in error.message
    assert (error.column, error.end_column) == (14, 14 + len(literal))


@pytest.mark.parametrize("text, message", [
    ("Age = 9007199254740992", "the number must be from -9,007,199,254,740,991 to "
                               "9,007,199,254,740,991, not 9007199254740992"),
    ("Age = -9007199254740992", "the number must be from"),
    ("Age = 1" + "0" * 30, "the number must be"),
    ("Age = 1e400", "the number 1e400 is too large"),
    ("Age = -1e400", "too large"),
    ("Signup in last 0 days", "the number of days must be from 1 to 36,525, not 0"),
    ("Signup in last 40000 days", "the number of days must be from 1 to 36,525"),
    ("Signup in last 1201 months", "the number of months must be from 1 to 1,200"),
    ("Signup in last 2.5 days", "the number of days must be a whole number, not 2.5"),
    ("Signup after -1 days ago", "the number of days must be from 0"),
    ("event X occurred at least 1.5 times", "the number of times must be a whole number"),
    ("event X occurred at most 1000001 times", "the number of times must be from 0 to 1,000,000"),
    ("event X occurred in last 0 hours", "the number of hours must be from 1"),
])
def test_out_of_range_numbers(text, message):
    assert message in error_of(text).message


def test_multi_line_input_reports_the_right_line():
    error = error_of('City = "Krakow"\n  and Age > 18\n  and Country Poland')
    assert (error.line, error.column) == (3, 15)
    assert "after field Country" in error.message
    assert error.snippet == "    and Country Poland\n                ^^^^^^"

    error = error_of("a = 1\n  and b = 2\n  and c ~ 3")
    assert (error.line, error.column) == (3, 9)
    assert error.message == "unexpected character '~'"
    assert error.snippet == "    and c ~ 3\n          ^"

    error = error_of("a = 1\nand\n\n")  # the end is where the text ends, not after blank lines
    assert (error.line, error.column) == (2, 4)
    assert "found the end of the expression" in error.message

    error = error_of('a = 1 and\nb = "x\ny"')
    assert (error.line, error.column) == (2, 5)


def test_error_inside_a_deep_line_keeps_its_column():
    text = "a = 1 and " * 30 + "b between 5"
    error = error_of(text)
    assert error.column == len(text) + 1
    assert error.snippet.splitlines()[0].startswith("  ...")  # long lines are cut around it


@pytest.mark.parametrize("text, message, hint", [
    ('visited City contains "x"', "visited takes url, not City",
     'write: visited url contains "/pricing"'),
    ("`` = 1", "a back-quoted name cannot be empty", None),
    ("`  ` = 1", "a back-quoted name cannot be empty", None),
    ('event E occurred where (in list "a")', "only event attribute conditions can follow where",
     "put event, list and segment conditions outside the where"),
    ("City = \"x\" & b", "unexpected character '&'", None),
    ("City == 1", "expected a value", None),
])
def test_other_messages(text, message, hint):
    error = error_of(text)
    assert message in error.message
    assert error.suggestion == hint


def test_not_text():
    with pytest.raises(SegmentSyntaxError, match="an expression must be text"):
        parse(b"a = 1")  # type: ignore[arg-type]


@pytest.mark.parametrize("text, line, shown", [
    ("a = 1\r\nand b ~ 2", 2, "  and b ~ 2"),
    ("a = 1\f and b ~ 2", 1, "  a = 1  and b ~ 2"),  # \f is no line break for the parser
    ("a = 1\u2028and b ~ 2", 1, "  a = 1 and b ~ 2"),
    ("a = 1 and\tb ~ 2", 1, "  a = 1 and b ~ 2"),  # a tab would push the caret off
])
def test_snippet_lines_match_the_reported_line(text, line, shown):
    error = error_of(text)
    assert error.line == line
    text_line, caret_line = error.snippet.split("\n")
    assert text_line == shown
    assert caret_line.index("^") == 2 + error.column - 1
    assert text_line[caret_line.index("^")] == "~"
