"""The type check: every rule, its words, its position, and every problem at once."""

from __future__ import annotations

import contextlib

import pytest

from dsl import ast
from dsl.errors import SegmentErrors, SegmentTypeError
from dsl.parser import parse
from dsl.schema import FieldSchema
from dsl.typecheck import check, require_valid

SCHEMA = FieldSchema.from_json({"City": "text", "Age": "number", "Signup": "date",
                                "Newsletter": "boolean", "Customer Status": "text"})

TEXT_ACCEPTS = ("equals, is not equal to, starts with, ends with, contains, doesn't contain, "
                "in, not in, has value, has no value")
NUMBER_ACCEPTS = "=, !=, >, >=, <, <=, between, in, not in, has value, has no value"
DATE_ACCEPTS = ("equals, is not equal to, before, after, between, in last, has value, "
                "has no value")
BOOLEAN_ACCEPTS = "is true, is false, has value, has no value"


def problems(text: str, **known) -> list[SegmentTypeError]:
    return check(parse(text), SCHEMA, source=text, **known)


def only(text: str, **known) -> SegmentTypeError:
    found = problems(text, **known)
    assert len(found) == 1, [str(problem) for problem in found]
    return found[0]


def where(text: str, error: SegmentTypeError) -> str:
    """The source text an error points at (one line)."""
    line = text.split("\n")[error.line - 1]
    return line[error.column - 1:error.end_column - 1]


# --- valid expressions -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "",
    'City = "Krakow" and Age >= 18 or not Signup in last 30 days',
    'City in ("a", "b") and Age not in (1, 2) and Newsletter is false',
    "Signup between 2024-01-01 and today and Signup after 3 months ago",
    "Signup before 2024-05-01T10:00:00Z and CreateTime has value and Email has no value",
    '`Customer Status` doesn\'t contain "gold"',
    "Age between 5 and 5",
    "event MailClick occurred at least 3 times in last 30 days",
    'event Purchase occurred where (price > 50 and category = "shoes" and paid is true)',
    "event Purchase occurred where (when after 2024-01-01 and when in last 3 days)",
    'event Purchase occurred where City > 5',  # an attribute, not the contact field City
    'visited url contains "/pricing" in last 7 days',
    'in list "VIP" and not in list "VIP" and in segment "Nowhere"',
])
def test_valid_expressions_have_no_problems(text):
    assert problems(text, event_types=["Purchase"], lists=["VIP"]) == []


# --- unknown fields --------------------------------------------------------------------------

def test_unknown_field_suggests_the_closest_name():
    text = 'Age > 1 and\n  Citty = "Krakow"'
    error = only(text)
    assert isinstance(error, SegmentTypeError)
    assert error.message == "unknown field Citty"
    assert error.suggestion == "did you mean City?"
    assert (error.line, error.column, error.end_line, error.end_column) == (2, 3, 2, 19)
    assert error.snippet == '    Citty = "Krakow"\n    ^^^^^^^^^^^^^^^^'
    assert str(error).startswith("line 2, column 3: unknown field Citty (did you mean City?)")


@pytest.mark.parametrize("text, suggestion", [
    ("city has value", "did you mean City?"),
    ("`customer status` has value", "did you mean Customer Status?"),
    ("Colour has value", "declare the field before using it"),
])
def test_unknown_field_suggestions(text, suggestion):
    assert only(text).suggestion == suggestion


def test_without_source_there_is_a_position_but_no_snippet():
    error = check(parse("Agee > 1"), SCHEMA)[0]
    assert (error.line, error.column) == (1, 1)
    assert error.snippet is None


def test_nodes_built_in_code_have_no_position():
    error = check(ast.Compare("Agee", ast.CompareOp.GT, ast.Number(1)), SCHEMA)[0]
    assert error.line is None and error.message == "unknown field Agee"


def test_an_and_after_a_bare_where_hints_at_parentheses():
    text = 'event Purchase occurred where price > 1 and category = "x"'
    error = only(text)
    assert error.message == "unknown field category"
    assert error.suggestion == ('an "and" after a bare where belongs to the outer expression: '
                                "to test an event attribute, put the where conditions in "
                                "parentheses")
    assert where(text, error) == 'category = "x"'


def test_the_where_hint_follows_a_did_you_mean():
    error = only('event Purchase occurred where price > 1 and Citty = "x"')
    assert error.suggestion.startswith("did you mean City?; an \"and\" after a bare where")


@pytest.mark.parametrize("text", [
    'event Purchase occurred where (price > 1 and size = 2) and category = "x"',  # not bare
    'event Purchase occurred and category = "x"',  # no where at all
    'event Purchase occurred where price > 1 or category = "x"',  # or, not and
    'event Purchase occurred where price > 1 and Age > 1 and category = "x"',  # not directly
])
def test_no_where_hint_when_the_where_is_not_the_cause(text):
    error = problems(text)[-1]
    assert error.message == "unknown field category"
    assert "where" not in error.suggestion


# --- operators per type ---------------------------------------------------------------------

OPERATORS = {
    "equals": "{f} equals {v}", "=": "{f} = {v}", "is not equal to": "{f} is not equal to {v}",
    "!=": "{f} != {v}", "not equals": "{f} not equals {v}", ">": "{f} > {v}",
    ">=": "{f} >= {v}", "<": "{f} < {v}", "<=": "{f} <= {v}", "starts with": "{f} starts with {v}",
    "ends with": "{f} ends with {v}", "contains": "{f} contains {v}",
    "doesn't contain": "{f} doesn't contain {v}", "does not contain": "{f} does not contain {v}",
    "before": "{f} before {v}", "after": "{f} after {v}", "between": "{f} between {v} and {v}",
    "in": "{f} in ({v}, {v})", "not in": "{f} not in ({v})", "in last": "{f} in last 3 days",
    "is true": "{f} is true", "is false": "{f} is false", "has value": "{f} has value",
    "has no value": "{f} has no value",
}
# SPEC §2, written out independently of the code under test.
ACCEPTED = {
    "City": {"equals", "=", "is not equal to", "!=", "not equals", "starts with", "ends with",
             "contains", "doesn't contain", "does not contain", "in", "not in", "has value",
             "has no value"},
    "Age": {"equals", "=", "is not equal to", "!=", "not equals", ">", ">=", "<", "<=",
            "between", "in", "not in", "has value", "has no value"},
    "Signup": {"equals", "=", "is not equal to", "!=", "not equals", "before", "after",
               "between", "in last", "has value", "has no value"},
    "Newsletter": {"is true", "is false", "has value", "has no value"},
}
MESSAGES = {"City": f"City is a text field; it accepts {TEXT_ACCEPTS}",
            "Age": f"Age is a number field; it accepts {NUMBER_ACCEPTS}",
            "Signup": f"Signup is a date field; it accepts {DATE_ACCEPTS}",
            "Newsletter": f"Newsletter is a boolean field; it accepts {BOOLEAN_ACCEPTS}"}
VALUES = {"City": '"x"', "Age": "5", "Signup": "2024-05-01", "Newsletter": "5"}


@pytest.mark.parametrize("field", list(ACCEPTED))
@pytest.mark.parametrize("operator", list(OPERATORS))
def test_operator_table(field, operator):
    text = OPERATORS[operator].format(f=field, v=VALUES[field])
    found = problems(text)
    if operator in ACCEPTED[field]:
        assert found == []
    else:
        assert [error.message for error in found] == [MESSAGES[field]]
        assert (found[0].line, found[0].column, found[0].end_column) == (1, 1, len(text) + 1)


@pytest.mark.parametrize("text, suggestion", [
    ('Age starts with "a"', "starts with works on text fields"),
    ("City > 5", "> works on number fields"),
    ("City between 1 and 2", "between works on number and date fields"),
    ("Signup in (2024-01-01)", "in works on text and number fields"),
    ("City in last 3 days", "in last works on date fields"),
    ("City is true", "is true works on boolean fields"),
    ("Newsletter = 1", "write Newsletter is true, or Newsletter is false"),
    ('Newsletter equals "yes"', "write Newsletter is true, or Newsletter is false"),
])
def test_operator_suggestions(text, suggestion):
    assert only(text).suggestion == suggestion


# --- literal types -------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, suggestion, pointed", [
    ("City = 5", "City is a text field; 5 is a number", 'put text in quotes: "5"', "5"),
    ("City starts with 2024-05-01", "City is a text field; 2024-05-01 is a date",
     'put text in quotes: "2024-05-01"', "2024-05-01"),
    ("City = today", "City is a text field; today is a date", 'put text in quotes: "today"',
     "today"),
    ('Age > "5"', 'Age is a number field; "5" is text', "write numbers without quotes: 5", '"5"'),
    ("Age > ' -2.5 '", "Age is a number field; ' -2.5 ' is text",
     "write numbers without quotes: -2.5", "' -2.5 '"),
    ('Age = "five"', 'Age is a number field; "five" is text', "write a number such as 42",
     '"five"'),
    ('Age = "5 or Age = 6"', 'Age is a number field; "5 or Age = 6" is text',
     "write a number such as 42", '"5 or Age = 6"'),
    ("Age < 3 days ago", "Age is a number field; 3 days ago is a date",
     "write a number such as 42", "3 days ago"),
    ('Signup = "2024-05-01"', 'Signup is a date field; "2024-05-01" is text',
     "write dates without quotes: 2024-05-01", '"2024-05-01"'),
    ('Signup after "3 days ago"', 'Signup is a date field; "3 days ago" is text',
     "write dates without quotes: 3 days ago", '"3 days ago"'),
    ('Signup before "yesterday"', 'Signup is a date field; "yesterday" is text',
     "write a date such as 2024-05-01, 2024-05-01T10:00:00Z, today or 3 days ago",
     '"yesterday"'),
    ("Signup = 20240501", "Signup is a date field; 20240501 is a number",
     "write a date such as 2024-05-01, 2024-05-01T10:00:00Z, today or 3 days ago", "20240501"),
])
def test_literal_of_the_wrong_type(text, message, suggestion, pointed):
    error = only(text)
    assert (error.message, error.suggestion) == (message, suggestion)
    assert where(text, error) == pointed


def test_the_spec_example_reads_as_one_line():
    assert str(only("City = 5")).splitlines()[0] == (
        'line 1, column 8: City is a text field; 5 is a number (put text in quotes: "5")')


def test_each_wrong_value_of_a_list_is_reported():
    text = 'City in ("a", 1, "b", 2024-01-01)'
    found = problems(text)
    assert [where(text, error) for error in found] == ["1", "2024-01-01"]
    text = 'Age between "1" and 5'
    assert [where(text, error) for error in problems(text)] == ['"1"']


def test_without_source_values_are_shown_as_written():
    tree = parse('City in (5, 2.5, 2024-05-01, 2024-05-01T10:00:00.5Z, today, 2 weeks ago) '
                 'and Age = "a\\"b"')
    assert [error.message.split("; ")[1] for error in check(tree, SCHEMA)] == [
        "5 is a number", "2.5 is a number", "2024-05-01 is a date",
        "2024-05-01T10:00:00.500Z is a date", "today is a date", "2 weeks ago is a date",
        '"a\\"b" is text']


# --- between order -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, suggestion", [
    ("Age between 10 and 2", "write Age between 2 and 10"),
    ("Age between 2.5 and -1", "write Age between -1 and 2.5"),
    ("Signup between 2024-05-02 and 2024-05-01", "write Signup between 2024-05-01 and 2024-05-02"),
    ("Signup between 2024-05-01T10:00:01Z and 2024-05-01T10:00:00Z",
     "write Signup between 2024-05-01T10:00:00Z and 2024-05-01T10:00:01Z"),
    ("Signup between 7 days ago and 30 days ago", "write Signup between 30 days ago and 7 days ago"),
    ("event MailClick occurred between 2024-02-01 and 2024-01-01",
     "write between 2024-01-01 and 2024-02-01"),
    ("event Purchase occurred where price between 9 and 1", "write price between 1 and 9"),
])
def test_between_needs_the_smaller_value_first(text, suggestion):
    error = only(text)
    assert error.message == "between needs the smaller value first"
    assert error.suggestion == suggestion


@pytest.mark.parametrize("text", [
    "Age between 2 and 2",
    "Signup between today and 2024-01-01",  # relative: depends on now
    "Signup between 1 weeks ago and 10 days ago",  # different units
    "Signup between 2024-05-02 and 2024-05-01T10:00:00Z",  # a day and an instant
    "event MailClick occurred between 3 days ago and today",
])
def test_between_order_is_checked_only_when_it_is_fixed(text):
    assert problems(text) == []


# --- event attributes ---------------------------------------------------------------------------

@pytest.mark.parametrize("condition, message, suggestion", [
    ("price starts with 5", "starts with needs text; the event attribute price is compared "
                            "with a number (5)", 'put text in quotes: "5"'),
    ('price > "5"', '> needs a number; the event attribute price is compared with text ("5")',
     "an event attribute takes the type of its value; compared with text, price accepts "
     f"{TEXT_ACCEPTS}"),
    ("when before 5", "before needs a date; the event attribute when is compared with a "
                      "number (5)",
     f"an event attribute takes the type of its value; compared with a number, when accepts "
     f"{NUMBER_ACCEPTS}"),
    ('size between "S" and "M"', "between needs a number or a date; the event attribute size "
                                 'is compared with text ("S")', None),
    ("when in (2024-01-01)", "in needs text or a number; the event attribute when is compared "
                            "with a date (2024-01-01)", None),
])
def test_attribute_type_comes_from_the_literal(condition, message, suggestion):
    text = f"event Purchase occurred where {condition}"
    error = only(text)
    assert error.message == message
    if suggestion is not None:
        assert error.suggestion == suggestion
    assert where(text, error) == condition


@pytest.mark.parametrize("condition, pointed, message", [
    ('price between 1 and "x"', '"x"',
     'between needs two values of one type; 1 is a number and "x" is text'),
    ('price in (1, 2, "a")', '"a"', 'in (...) needs values of one type; 1 is a number and '
                                    '"a" is text'),
    ("when not in (2024-01-01, 5)", "5", "in (...) needs values of one type; 2024-01-01 is a "
                                        "date and 5 is a number"),
])
def test_attribute_values_of_mixed_types(condition, pointed, message):
    text = f"event Purchase occurred where {condition}"
    error = only(text)
    assert error.message == message
    assert where(text, error) == pointed


@pytest.mark.parametrize("condition", [
    "`a.b` = 1", "`$gt` = 1", "`price ` = 1", "`x/y` has value",
])
def test_attribute_names_are_validated(condition):
    error = only(f"event Purchase occurred where {condition}")
    assert "the event attribute name" in error.message
    assert error.suggestion


@pytest.mark.parametrize("condition", [
    "flag is true", "flag is false", "when in last 2 hours", "x has value", "x has no value",
    'url = "a"', "n between 1 and 2", "when between 2024-01-01 and today", 'tag not in ("a")',
    "when before 3 days ago", "`item count` >= 2",
])
def test_attribute_conditions_that_fit(condition):
    assert problems(f"event Purchase occurred where {condition}") == []


# --- events and lists ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, suggestion", [
    ("event MailClik occurred", "did you mean MailClick?"),
    ("event mailclick occurred", "did you mean MailClick?"),
    ("event product_purchasd occurred", "did you mean product_purchased?"),
    ("event PRODUCT_PURCHASED did not occur", "did you mean product_purchased?"),
])
def test_misspelt_event_types(text, suggestion):
    error = only(text, event_types=["product_purchased"])
    assert error.message == f"unknown event {text.split()[1]}"
    assert error.suggestion == suggestion
    assert (error.line, error.column, error.end_column) == (1, 1, len(text) + 1)


@pytest.mark.parametrize("text", [
    "event product_viewed occurred",  # a new custom event nobody has sent yet
    "event Signup occurred",
    "event MailOpen occurred",  # system event types are always known
    "event PageVisit occurred",
    'visited url contains "x"',
])
def test_new_event_types_are_accepted(text):
    assert problems(text, event_types=["product_purchased"]) == []


def test_event_types_are_not_checked_without_a_list():
    assert problems("event MailClik occurred") == []


@pytest.mark.parametrize("known, text, suggestion", [
    (["VIP", "Newsletter"], 'in list "VIPS"', "did you mean VIP?"),
    (["VIP"], 'not in list "vip"', "did you mean VIP?"),
    (["B", "A"], 'in list "Customers"', "the lists are A, B"),
    ([f"L{n:02}" for n in range(12)], 'in list "Other"',
     "the lists are L00, L01, L02, L03, L04, L05, L06, L07, L08, L09, ..."),
    ([], 'in list "VIP"', "there are no lists yet"),
])
def test_unknown_lists(known, text, suggestion):
    error = only(text, lists=known)
    assert error.message == f"no list named {parse(text.replace('not ', '')).name}"
    assert error.suggestion == suggestion
    assert where(text, error).startswith("in list")


def test_lists_and_segments_are_not_checked_without_names():
    assert problems('in list "Anything" and in segment "Anything"') == []


# --- all problems, in source order ---------------------------------------------------------------

def test_every_problem_is_reported_in_source_order():
    text = ('Citty = "x" or (Age starts with "1" and event MailClik occurred where price > "1")\n'
            'and not (Signup = 5 or in list "VIPS") and Newsletter is true\n'
            "and all of (Agee > 1, Age between 9 and 1)")
    found = problems(text, event_types=[], lists=["VIP"])
    assert [(error.line, error.column, error.message.split(";")[0]) for error in found] == [
        (1, 1, "unknown field Citty"),
        (1, 17, "Age is a number field"),
        (1, 41, "unknown event MailClik"),
        (1, 71, "> needs a number"),
        (2, 19, "Signup is a date field"),
        (2, 24, "no list named VIPS"),
        (3, 13, "unknown field Agee"),
        (3, 23, "between needs the smaller value first"),
    ]


def test_require_valid_raises_every_problem():
    text = 'Citty = "x" and Age = "x"'
    with pytest.raises(SegmentErrors) as caught:
        require_valid(parse(text), SCHEMA, source=text)
    assert [error.message for error in caught.value.errors] == [
        "unknown field Citty", 'Age is a number field; "x" is text']
    assert "unknown field Citty" in str(caught.value)
    assert 'Age = "x"' in str(caught.value)  # the snippets come along
    assert require_valid(parse("Age = 1"), SCHEMA) is None


def test_segment_errors_pass_through_context_managers():
    @contextlib.contextmanager
    def passing():
        yield

    with pytest.raises(SegmentErrors):
        with passing():
            require_valid(parse("Agee = 1"), SCHEMA, event_types=[], lists=[])


def test_problems_are_type_errors_with_positions():
    for error in problems('Citty = 1 and in list "X"', lists=[]):
        assert isinstance(error, SegmentTypeError)
        assert error.line == 1 and error.snippet
