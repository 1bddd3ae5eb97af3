"""Diagnostics: every syntax error, every type error, and warnings that are proven.

Each warning rule is checked against the reference evaluator: on generated expressions
and generated contacts, events and evaluation times, a part warned to match nothing
matches nothing, a part warned to match everything matches everything, and removing a
repeated condition changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl import ast
from dsl.diagnostics import (MAX_ERRORS, Diagnostic, Rule, Severity, diagnose, lint,
                             syntax_diagnostics)
from dsl.errors import SegmentError
from dsl.evaluator import evaluate
from dsl.formatter import format_expression
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType
from dsl.typecheck import check

UTC = dt.timezone.utc
SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter", FieldType.BOOLEAN)])
CORPUS = [line for line in Path(__file__).with_name("corpus.txt").read_text("utf-8").splitlines()
          if line.strip() and not line.startswith("#")]


def codes(text: str, **known) -> list[tuple[str, str]]:
    return [(d.severity.value, d.code) for d in diagnose(text, SCHEMA, **known)]


# --- syntax errors ---------------------------------------------------------------------------

def test_every_syntax_error_is_reported() -> None:
    text = "City Krakow and Age >> 5 and event Foo occured"
    found = diagnose(text, SCHEMA)
    assert [(d.line, d.column, d.end_column) for d in found] == [(1, 6, 12), (1, 22, 23),
                                                                 (1, 40, 47)]
    assert [text[d.start:d.end] for d in found] == ["Krakow", ">", "occured"]
    assert found[0].message.startswith("expected an operator such as equals")
    assert "occurred or did not occur after event Foo" in found[2].message
    assert all(d.severity is Severity.ERROR and d.code == "syntax" for d in found)


@pytest.mark.parametrize("text, expected", [
    ("City equals and Age > 5", [(1, 13, "expected a value")]),
    ('City equals "x" event MailClick occurred', [(1, 17, "expected the end of the expression")]),
    ("Signup after 2024-02-30 and Signup before 2024-13-01",
     [(1, 14, "2024-02-30 is not a calendar date"), (1, 43, "2024-13-01 is not a calendar date")]),
    ('Age > 5 @ and City = "x" ))', [(1, 9, "unexpected character '@'"),
                                     (1, 26, "expected the end of the expression")]),
    ("all of (Age > 1, City equals , Age <)", [(1, 30, "expected a value"),
                                                (1, 37, "expected a value")]),
    ('City equals "Kr', [(1, 13, "this text is never closed")]),
    # the type error of a condition built beside the syntax errors is reported too
    ("Age > 5 and and Age < 3 or or City equals 4", [(1, 13, "expected a condition"),
                                                     (1, 28, "expected a condition"),
                                                     (1, 43, "City is a text field")]),
    ("event X occurred where event Y occurred",
     [(1, 24, "only event attribute conditions can follow where")]),
    ("Age >\n  and City =\n  or", [(2, 3, "expected a value"), (3, 3, "expected a value")]),
])
def test_errors_and_where_they_are(text, expected) -> None:
    found = diagnose(text, SCHEMA)
    assert [(d.line, d.column) for d in found] == [(line, column) for line, column, _ in expected]
    for diagnostic, (_, _, message) in zip(found, expected):
        assert diagnostic.message.startswith(message)


@pytest.mark.parametrize("text, expected", [
    ('Citty equals "x" and Age >> 5', [(1, 1, "type", "unknown field Citty"),
                                       (1, 27, "syntax", "expected a value")]),
    ('(Citty = "a" or Age >> 3) and not Ag has value',
     [(1, 2, "type", "unknown field Citty"), (1, 22, "syntax", "expected a value"),
      (1, 35, "type", "unknown field Ag")]),
    # a value the recovery made up is not type-checked: no "Age is a number field" here
    ('Age > and City = "x" and Cty has value', [(1, 7, "syntax", "expected a value"),
                                                (1, 26, "type", "unknown field Cty")]),
    # attribute names inside a broken event condition are not taken for contact fields
    ("event X occurred where (pric > 5 and Agee >> 3) and Cit has value",
     [(1, 44, "syntax", "expected a value"), (1, 53, "type", "unknown field Cit")]),
    ('visited uurl contains "x" >> and Cit has value',
     [(1, 1, "syntax", "visited takes url"), (1, 27, "syntax", "expected at least"),
      (1, 34, "type", "unknown field Cit")]),
])
def test_type_errors_beside_syntax_errors(text, expected) -> None:
    found = diagnose(text, SCHEMA)
    assert [(d.line, d.column, d.code) for d in found] == [
        (line, column, code) for line, column, code, _ in expected]
    for diagnostic, (*_, message) in zip(found, expected):
        assert diagnostic.message.startswith(message)


def test_an_unclosed_text_is_underlined_to_the_end_of_its_line() -> None:
    (found,) = diagnose('City equals "Kr and x', SCHEMA)
    assert (found.start, found.end) == (12, 21)


def test_the_number_of_errors_is_bounded() -> None:
    text = " and ".join(["Age >> 1"] * 50)
    found = diagnose(text, SCHEMA)
    assert len(found) == MAX_ERRORS
    assert len(diagnose(text, SCHEMA, max_errors=5)) == 5


def test_limits() -> None:
    (too_long,) = diagnose("x" * 300_000, SCHEMA)
    assert too_long.code == "limit" and "characters long" in too_long.message
    deep = "not (" * 101 + "Age > 1" + ")" * 101
    found = diagnose(deep, SCHEMA)
    assert found[0].code == "limit" and "nests more than 100 levels" in found[0].message


def test_a_valid_text_has_no_syntax_errors() -> None:
    for line in CORPUS:
        assert syntax_diagnostics(line) == [], line


def _first_error(text: str) -> SegmentError | None:
    try:
        parse(text)
    except SegmentError as error:
        return error
    return None


def _check_ranges(text: str, found: list[Diagnostic]) -> None:
    for d in found:
        assert 0 <= d.start <= d.end <= len(text)
        assert d.line >= 1 and d.column >= 1
        assert (d.line, d.column) <= (d.end_line, d.end_column)


@given(st.sampled_from(CORPUS), st.lists(st.tuples(st.integers(0, 200), st.sampled_from(
    ["", " ", "(", ")", "and", '"', "'", "`", ",", "@", "=", "x", "in", "not", "5", "\n"])),
    min_size=1, max_size=4))
def test_broken_text_reports_parse_error_and_never_raises(line, edits) -> None:
    text = line
    for position, insert in edits:
        position %= len(text) + 1
        text = text[:position] + insert + text[position + 1:]  # replace one character
    found = diagnose(text, SCHEMA)
    _check_ranges(text, found)
    first = _first_error(text)
    if first is None:
        assert not [d for d in found if d.code == "syntax"]
    else:
        assert found and all(d.severity is Severity.ERROR for d in found)
        assert any((d.line, d.column, d.message) == (first.line, first.column, first.message)
                   for d in found), (text, first, found)


@given(st.text(max_size=80))
def test_any_text(text) -> None:
    found = diagnose(text, SCHEMA)
    _check_ranges(text, found)
    if _first_error(text) is not None:
        assert found


# --- type errors --------------------------------------------------------------------------------

def test_every_type_error_as_the_checker_reports_it() -> None:
    text = 'Citty equals "x" and Age starts with "4" and in list "VIPS" and event MailClik occurred'
    found = diagnose(text, SCHEMA, event_types=[], lists=["VIP"])
    expected = check(parse(text), SCHEMA, source=text, event_types=[], lists=["VIP"])
    assert [(d.line, d.column, d.message, d.suggestion) for d in found] == [
        (e.line, e.column, e.message, e.suggestion) for e in expected]
    assert len(found) == 4 and all(d.code == "type" for d in found)
    assert text[found[0].start:found[0].end] == 'Citty equals "x"'


def test_multiline_ranges() -> None:
    text = 'Age > 1 and\n  Citty equals "x"'
    (found,) = diagnose(text, SCHEMA)
    assert (found.line, found.column, found.end_line, found.end_column) == (2, 3, 2, 19)
    assert text[found.start:found.end] == 'Citty equals "x"'


# --- warnings: examples -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    ("Age > 50 and Age < 20", "never"),
    ("Age = 3 and Age = 4", "never"),
    ("Age between 5 and 10 and Age < 3", "never"),
    ("Age >= 3 and Age <= 3 and Age != 3", "never"),
    ("Age in (1, 2) and Age != 1 and Age not in (2)", "never"),
    ("City has value and City has no value", "never"),
    ("Newsletter is true and Newsletter is false", "never"),
    ('City equals "a" and City starts with "b"', "never"),
    ('City equals "Krakow" and City is not equal to "KRAKOW"', "never"),
    ('City equals "Straße" and not City equals "STRASSE"', "never"),
    ("Signup after 2024-05-01 and Signup before 2024-04-01", "never"),
    ("Signup equals 2024-05-01 and Signup after 2024-05-01", "never"),
    ('in list "VIP" and not in list "VIP"', "never"),
    ("event MailClick occurred and event MailClick did not occur", "never"),
    ("event MailClick occurred exactly 0 times and not event MailClick did not occur", "never"),
    ("Age > 20 and (City equals \"x\" and Age < 10)", "never"),
    ('in list "VIP" or not in list "VIP"', "always"),
    ("City has value or City has no value", "always"),
    ("event MailClick occurred at least 3 times or event MailClick occurred at most 2 times",
     "always"),
    ("Age > 3 and Age > 3", "duplicate"),
    ('City equals "x" or City = "X"', "duplicate"),
])
def test_warnings(text, code) -> None:
    found = diagnose(text, SCHEMA, lists=["VIP"])
    assert [(d.severity, d.code) for d in found] == [(Severity.WARNING, code)], found


def test_a_warning_names_the_conditions_and_spans_them() -> None:
    text = 'City equals "x" and Age > 50 and Newsletter is true and Age < 20'
    (found,) = diagnose(text, SCHEMA)
    assert found.message == ("Age > 50 and Age < 20 can never both hold (no value lies in both "
                             "ranges): this part matches no contact")
    assert found.suggestion == "check the values; perhaps you meant or"
    assert text[found.start:found.end] == "Age > 50 and Newsletter is true and Age < 20"
    (duplicate,) = diagnose("Age > 3 and City has value and Age > 3", SCHEMA)
    assert (duplicate.start, duplicate.end) == (31, 38)  # the repetition


def test_warnings_inside_where_speak_of_events() -> None:
    (found,) = diagnose("event product_purchased occurred where (price > 50 and price < 20)",
                        SCHEMA)
    assert found.code == "never" and found.message.endswith("matches no event")


@pytest.mark.parametrize("text", [
    "Age > 5 or Age <= 5",  # a contact without a value matches neither
    "Newsletter is true or Newsletter is false",
    "Age > 20 and Age < 50",
    "Age >= 3 and Age <= 3",
    "Signup after today and Signup before 3 days ago",  # relative: not decided here
    "Signup in last 3 days and Signup before 2000-01-01",
    'City equals "a" or City equals "b"',
    "Age = 3 or Age = 4",
    'City starts with "a" and City ends with "b"',
    "event MailClick occurred at least 3 times and event MailClick occurred at most 5 times",
    "event MailClick occurred and event MailClick did not occur in last 3 days",
    "(Age > 50 or City has value) and Age < 20",
    "Signup equals 2024-05-01 and Signup after 2024-05-01T10:00:00Z",
])
def test_no_warning(text) -> None:
    assert diagnose(text, SCHEMA) == [], diagnose(text, SCHEMA)


def test_no_warning_on_a_part_with_a_type_error() -> None:
    assert codes('City > 5 and City < 3') == [("error", "type"), ("error", "type")]


# --- warnings: proof against the reference evaluator ---------------------------------------------

NUMBERS = [1, 2, 3, 3.0, 5, 10, -1, 2.5]
STRINGS = ["a", "A", "ab", "b", "", "ß", "SS"]
DATES = [ast.Day(dt.date(2024, 5, 1)), ast.Day(dt.date(2024, 5, 2)),
         ast.Timestamp(dt.datetime(2024, 5, 1, 10, tzinfo=UTC)), ast.Today(),
         ast.Ago(1, ast.Unit.DAYS), ast.Ago(3, ast.Unit.HOURS)]
literal = st.one_of(st.sampled_from(NUMBERS).map(ast.Number), st.sampled_from(STRINGS).map(ast.String),
                    st.sampled_from(DATES))


def conditions(field_names):
    name = st.sampled_from(field_names)
    return st.one_of(
        st.builds(ast.Compare, name, st.sampled_from(list(ast.CompareOp)), literal),
        st.builds(ast.Between, name, literal, literal),
        st.builds(ast.InValues, name, st.lists(literal, min_size=1, max_size=3).map(tuple),
                  st.booleans()),
        st.builds(ast.HasValue, name, st.booleans()),
        st.builds(ast.IsBool, name, st.booleans()),
        st.builds(ast.InLast, name, st.sampled_from([1, 3]),
                  st.sampled_from([ast.Unit.DAYS, ast.Unit.HOURS])),
    )


def trees(leaves, max_leaves=6):
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: ast.And(tuple(ops))),
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: ast.Or(tuple(ops))),
        inner.map(ast.Not),
    ), max_leaves=max_leaves)


def _with_pairs(leaves):
    """Leaves, and a leaf next to its negation or its repetition (so rule 1 has work)."""
    return st.one_of(
        leaves,
        leaves.flatmap(lambda leaf: st.sampled_from([
            ast.And((leaf, ast.Not(leaf))), ast.Or((leaf, ast.Not(leaf))),
            ast.And((leaf, leaf)), ast.Or((ast.Not(leaf), leaf))])),
    )


attribute_conditions = conditions(["p"])
events = st.one_of(
    st.builds(ast.EventCondition, st.just("E"), st.just(True),
              st.none() | st.builds(ast.Count, st.sampled_from(list(ast.CountOp)),
                                    st.integers(0, 3)),
              st.none() | st.just(ast.LastWindow(7, ast.Unit.DAYS)),
              st.none() | trees(attribute_conditions, max_leaves=4)),
    st.builds(ast.EventCondition, st.just("E"), st.just(False), st.none(),
              st.none() | st.just(ast.LastWindow(7, ast.Unit.DAYS)),
              st.none() | trees(attribute_conditions, max_leaves=4)),
)
# Ranges of one kind on one field: number bounds on n, absolute date bounds on d.
_BOUNDS = [ast.CompareOp.EQUALS, ast.CompareOp.GT, ast.CompareOp.GTE, ast.CompareOp.LT,
           ast.CompareOp.LTE, ast.CompareOp.NOT_EQUALS]
ranges = st.one_of(
    st.builds(ast.Compare, st.just("n"), st.sampled_from(_BOUNDS),
              st.sampled_from(NUMBERS).map(ast.Number)),
    st.builds(ast.Between, st.just("n"), st.sampled_from(NUMBERS).map(ast.Number),
              st.sampled_from(NUMBERS).map(ast.Number)),
    st.builds(ast.Compare, st.just("d"), st.sampled_from(
        [ast.CompareOp.EQUALS, ast.CompareOp.BEFORE, ast.CompareOp.AFTER, ast.CompareOp.NOT_EQUALS]),
        st.sampled_from(DATES[:3])),
    st.builds(ast.Between, st.just("d"), st.sampled_from(DATES[:3]), st.sampled_from(DATES[:3])),
)
leaves = _with_pairs(st.one_of(conditions(["x", "y"]), ranges, events, st.just(ast.InList("L"))))
warned_expressions = trees(leaves, max_leaves=8)

MOMENTS = [dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 1, 10, tzinfo=UTC),
           dt.datetime(2024, 5, 1, 23, 59, 59, 999_000, tzinfo=UTC),
           dt.datetime(2024, 5, 2, tzinfo=UTC), dt.datetime(2024, 4, 30, 12, tzinfo=UTC),
           dt.datetime(2024, 6, 1, 12, tzinfo=UTC)]
VALUES = [None, *NUMBERS, *STRINGS, "B ", True, False, *MOMENTS]
contact = st.fixed_dictionaries({
    "fields": st.fixed_dictionaries({}, optional={name: st.sampled_from(VALUES)
                                                  for name in ("x", "y", "n", "d")}),
    "lists": st.sampled_from([[], ["L"]]),
    "events": st.lists(st.fixed_dictionaries({
        "type": st.just("E"), "time": st.sampled_from(MOMENTS),
        "attributes": st.fixed_dictionaries({}, optional={"p": st.sampled_from(VALUES)})}),
        max_size=4),
})
nows = st.sampled_from([dt.datetime(2024, 5, 1, 12, tzinfo=UTC),
                        dt.datetime(2024, 5, 2, 1, tzinfo=UTC),
                        dt.datetime(2024, 6, 1, 12, tzinfo=UTC)])


def _join(kind, operands):
    operands = tuple(operands)
    return operands[0] if len(operands) == 1 else kind(operands)


def _without_repetition(finding):
    from dsl.diagnostics import _flatten

    operands = _flatten(finding.node)
    last = max(i for i, o in enumerate(operands) if o is finding.conditions[-1])
    return _join(type(finding.node), operands[:last] + operands[last + 1:])


def _holds(expr, attribute, person, now):
    if attribute:  # a where part: does some event of the contact satisfy it?
        expr = ast.EventCondition("E", True, None, None, expr)
    return evaluate(expr, person, person["events"], now)


@settings(max_examples=1000)
@given(warned_expressions, st.lists(contact, min_size=8, max_size=8), nows)
def test_every_warning_is_true_for_every_contact(expr, people, now) -> None:
    for finding in lint(expr):
        for person in people:
            if finding.rule is Rule.NEVER:
                part = _join(ast.And, finding.conditions)
                assert not _holds(part, finding.attribute, person, now), (finding, person)
                assert not _holds(finding.node, finding.attribute, person, now)
            elif finding.rule is Rule.ALWAYS:
                part = _join(ast.Or, finding.conditions)
                anything = ast.Or((part, ast.Not(part)))  # every contact / every event
                assert _holds(part, finding.attribute, person, now) == \
                    _holds(anything, finding.attribute, person, now), (finding, person)
                assert _holds(finding.node, finding.attribute, person, now) == \
                    _holds(anything, finding.attribute, person, now)
            else:
                assert _holds(finding.node, finding.attribute, person, now) == \
                    _holds(_without_repetition(finding), finding.attribute, person, now)


def test_the_generated_expressions_do_exercise_every_rule() -> None:
    """Each rule is found on the generated expressions (else the proof above proves little)."""
    seen: dict[str, set[str]] = {}

    @settings(max_examples=500, database=None, derandomize=True)
    @given(warned_expressions)
    def collect(expr):
        for finding in lint(expr):
            seen.setdefault(finding.rule.value, set()).add(finding.reason)

    collect()
    assert set(seen) == {"never", "always", "duplicate"}
    assert {"a condition and its negation", "a field holds one kind of value",
            "no value lies in both ranges", "none of the values it allows fits"} <= seen["never"]


@given(warned_expressions)
def test_warnings_on_parsed_text_cover_their_conditions(expr) -> None:
    text = format_expression(expr)
    reparsed = parse(text)
    findings = lint(reparsed)
    for finding in findings:
        for condition in finding.conditions:  # a span can leave out the brackets at its ends
            assert text[condition.span.start:condition.span.end] in format_expression(condition)
    untyped = FieldSchema([FieldDef("x", FieldType.TEXT), FieldDef("y", FieldType.NUMBER)])
    for diagnostic in diagnose(text, untyped):
        assert 0 <= diagnostic.start < diagnostic.end <= len(text)
        assert diagnostic.code in ("type", "never", "always", "duplicate")
        if diagnostic.severity is Severity.WARNING:
            parse(text[diagnostic.start:diagnostic.end])  # whole brackets: it parses alone


@pytest.mark.parametrize("make", [
    lambda n: " and ".join(["(Age > 1)", *["not (Age > 1)"] * (n - 1)]),
    lambda n: " or ".join(['City equals "x"'] * n),
    lambda n: " and ".join(f'(City equals "a{i % 7}" or Age > {i % 5})' for i in range(n)),
])
def test_the_work_per_warning_is_bounded_however_many_conditions_repeat(make, monkeypatch) -> None:
    """Thousands of repeated conditions: at most MAX_WARNINGS warnings are built (each one's
    work grows with the text, so all of them would be quadratic), in source order."""
    import dsl.diagnostics as diagnostics

    built = []
    real = diagnostics._from_finding
    monkeypatch.setattr(diagnostics, "_from_finding",
                        lambda finding: built.append(1) or real(finding))
    schema = FieldSchema([FieldDef("Age", FieldType.NUMBER), FieldDef("City", FieldType.TEXT)])
    found = diagnose(make(2000), schema)
    warnings = [d for d in found if d.severity is Severity.WARNING]
    assert len(warnings) == diagnostics.MAX_WARNINGS
    assert len(built) <= diagnostics.MAX_WARNINGS
    assert [w.start for w in warnings] == sorted(w.start for w in warnings)


def test_consent_and_totals_get_the_same_warnings() -> None:
    found = diagnose("can receive email and cannot receive email", SCHEMA)
    assert [d.severity.value for d in found] == ["warning"]
    assert "can never both hold" in found[0].message
    found = diagnose("event product_purchased sum of price > 5 where (a = 1 and a = 2)", SCHEMA)
    assert "this part matches no event" in found[0].message
