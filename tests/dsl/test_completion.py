"""Completion: the half-typed cases, the operator table, quoting, ranges, and two properties
over generated expressions: every token of a valid expression is offered where it stands,
and every suggestion keeps the text a valid beginning of an expression."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lark.exceptions import UnexpectedToken

from dsl import recovery
from dsl.completion import CompletionContext, Suggestion, SuggestionKind, complete, value_request
from dsl.formatter import format_expression
from dsl.schema import FieldDef, FieldSchema, FieldType
from tests.dsl.strategies import STRINGS, expressions, typed_expressions

SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter", FieldType.BOOLEAN),
                      FieldDef("Customer Status", FieldType.TEXT),
                      FieldDef("Country", FieldType.TEXT)])
CONTEXT = CompletionContext(
    SCHEMA, event_types=["product_purchased", "MailClick"], lists=["VIP", "Gold", "Vendors"],
    segments=["Active users", "Buyers"],
    values={"City": ["Krakow", "Warsaw", "Kraków", "Gdansk"]},
    attributes={"product_purchased": ["price", "category"]})


def at(text: str, context: CompletionContext = CONTEXT) -> list[Suggestion]:
    """Suggestions with the cursor at `|` (or at the end)."""
    offset = text.index("|") if "|" in text else len(text)
    return complete(text.replace("|", "", 1), offset, context)


def labels(text: str, context: CompletionContext = CONTEXT) -> list[str]:
    return [suggestion.label for suggestion in at(text, context)]


# --- the half-typed examples -----------------------------------------------------------------

def test_a_half_typed_operator() -> None:
    found = at("City eq")
    assert [s.label for s in found] == ["equals", "is not equal to"]
    assert found[0] == Suggestion("equals", SuggestionKind.OPERATOR, "text operator", "equals",
                                  5, 7)


def test_a_half_typed_event_type() -> None:
    found = at("event Mai")
    assert [(s.label, s.kind) for s in found] == [("MailClick", SuggestionKind.EVENT),
                                                  ("MailOpen", SuggestionKind.EVENT)]
    assert {(s.start, s.end) for s in found} == {(6, 9)}


def test_the_and_of_between() -> None:
    found = at("Age between 3")
    assert [s.label for s in found] == ["and"]
    assert (found[0].insert_text, found[0].start, found[0].end) == (" and", 13, 13)
    assert labels("Age between 3 ") == ["and"]
    assert labels("Age between 3 and 5 ") == ["and", "or"]


def test_an_unterminated_list_name() -> None:
    found = at('in list "V')
    assert [s.label for s in found] == ['"Vendors"', '"VIP"']
    assert found[1].insert_text == '"VIP"' and found[1].kind is SuggestionKind.LIST
    assert (found[1].start, found[1].end) == (8, 10)  # from the opening quote to the cursor
    assert labels('in segment "act') == ['"Active users"']
    assert labels("in list 'G") == ['"Gold"']


def test_frequent_values_of_a_text_field() -> None:
    found = at('City equals "Kr')
    assert [s.label for s in found] == ['"Krakow"', '"Kraków"']
    assert found[0].kind is SuggestionKind.VALUE and (found[0].start, found[0].end) == (12, 15)
    assert labels("City equals ") == ['"Krakow"', '"Warsaw"', '"Kraków"', '"Gdansk"']
    # starting with what is typed first, then containing it
    assert labels('City in ("Krakow", "W') == ['"Warsaw"', '"Krakow"', '"Kraków"']
    # a function of the field works as well as a mapping; other fields have none
    by_function = CompletionContext(
        SCHEMA, values=lambda name: ["Pl", "Cz"] if name == "Country" else [])
    assert labels('Country = "', by_function) == ['"Pl"', '"Cz"']
    assert labels('City = "', by_function) == []


def test_the_empty_text_offers_fields_and_condition_keywords() -> None:
    found = at("")
    fields = [s for s in found if s.kind is SuggestionKind.FIELD]
    assert [s.label for s in fields] == ["Age", "City", "Country", "CreateTime",
                                         "`Customer Status`", "Email", "FirstName", "LastName",
                                         "MobilePhone", "Newsletter", "Signup"]
    assert fields[0].detail == "number" and fields[1].detail == "text"
    keywords = [s.label for s in found if s.kind is SuggestionKind.KEYWORD]
    assert keywords == ["event", "visited url", "can receive", "cannot receive", "in list",
                        "in segment", "not", "all of (",
                        "any of ("]
    assert all((s.start, s.end) == (0, 0) for s in found)


def test_the_cursor_in_the_middle_of_the_text() -> None:
    found = at('City eq|uals "Krakow" and Age > 3')
    assert [s.label for s in found] == ["equals", "is not equal to"]
    assert (found[0].start, found[0].end) == (5, 11)  # the whole word under the cursor
    assert labels('City equals "Krakow" and | and Age > 3')[:2] == ["Age", "City"]
    assert labels('City equals "Krakow" and Ag| > 3') == ["Age"]
    found = at('City equals "Kr|akow" and Age > 3')
    assert [s.label for s in found] == ['"Krakow"', '"Kraków"']
    assert (found[0].start, found[0].end) == (12, 20)  # the whole quoted text


# --- what each position offers -----------------------------------------------------------------

def test_operators_follow_the_field_type() -> None:
    assert labels("Age ") == ["=", "!=", ">", ">=", "<", "<=", "between", "in (", "not in (",
                              "has value", "has no value"]
    assert labels("Newsletter ") == ["is true", "is false", "has value", "has no value"]
    assert labels("Signup ") == ["equals", "is not equal to", "before", "after", "between",
                                 "in last", "has value", "has no value"]
    assert "starts with" in labels("City ") and "starts with" not in labels("Age ")
    assert labels("`Customer Status` st") == ["starts with"]
    assert labels("Newsletter is ") == ["true", "false"]
    assert labels("City is ") == ["not equal to"]
    assert labels("City has ") == ["value", "no value"]
    assert labels("City not ") == ["equals", "in ("]
    assert labels("City doesn'") == ["doesn't contain"]
    assert labels("Age !") == ["!="]
    assert labels("Age >") == [">", ">="]
    # an alias is offered when it is what is being typed
    assert labels("Age eq") == ["equals", "is not equal to"]


def test_an_unknown_field_or_an_attribute_gets_every_operator() -> None:
    assert "starts with" in labels("Citty ") and "is true" in labels("Citty ")
    found = labels("event product_purchased occurred where price ")
    assert "=" in found and "equals" in found and "starts with" in found


def test_event_conditions() -> None:
    assert labels("event ") == ["MailClick", "MailOpen", "PageVisit", "product_purchased",
                                "PushClick", "SmsClick"]
    assert labels("event MailClick ") == ["occurred", "did not occur", "first occurred",
                                          "last occurred", "sum of", "average of",
                                          "minimum of", "maximum of"]
    assert labels("can receive ") == ["email", "sms", "push"]
    assert labels("event MailClick last occurred ") == ["equals", "is not equal to", "before",
                                                        "after", "between", "in last"]
    assert labels("event MailClick sum of price ") == ["=", "!=", ">", ">=", "<", "<=",
                                                       "between", "in (", "not in (",
                                                       "has value", "has no value"]
    assert labels("event MailClick did ") == ["not occur"]
    assert labels("event MailClick occurred ") == ["and", "or", "at least", "at most", "exactly",
                                                   "in last", "since", "before", "between",
                                                   "where"]
    assert labels("event MailClick occurred at ") == ["least", "most"]
    assert labels("event MailClick occurred at least 3 ") == ["times"]
    assert labels("event MailClick occurred exactly 1 ") == ["time"]
    assert labels("event MailClick occurred in last 3 ") == ["hours", "days", "weeks", "months"]
    assert labels("event MailClick occurred since ") == ["today"]
    assert labels("event product_purchased occurred where ") == ["category", "price", "not"]
    assert labels("event product_purchased occurred where (price > 5 and ") == [
        "category", "price", "not"]
    assert labels("visited ") == ["url"]
    assert "contains" in labels("visited url ") and "is true" not in labels("visited url ")


def test_units_and_dates() -> None:
    assert labels("Signup in last 1 ") == ["hour", "day", "week", "month"]
    assert labels("Signup after 3 ") == ["hours ago", "days ago", "weeks ago", "months ago"]
    assert labels("Signup after 2 d") == ["days ago"]
    assert labels("Signup before ") == ["today"]
    assert labels("Signup after 2024-05-01") == ["and", "or"]
    assert labels("Age > ") == []  # no units, no today: a number goes here
    assert labels("Age > 3 ") == ["and", "or"]


def test_condition_keywords_continue() -> None:
    assert labels("in ") == ["list", "segment"]
    assert labels("not in ") == ["list", "segment"]
    assert labels("all ") == ["of ("]
    assert labels("i")[:2] == ["in list", "in segment"]
    assert labels("in list ") == ['"Gold"', '"Vendors"', '"VIP"']
    assert labels("in segment ") == ['"Active users"', '"Buyers"']
    assert labels("not ")[:1] == ["Age"]


def test_filtering_by_prefix_then_substring() -> None:
    assert labels("tus") == ["`Customer Status`"]  # by substring, letter case ignored
    assert labels("co") == ["Country"]
    assert labels("C") == ["City", "Country", "CreateTime", "`Customer Status`", "can receive",
                           "cannot receive"]
    assert labels("name") == ["FirstName", "LastName"]
    assert labels("`Cust") == ["`Customer Status`"]
    assert at("`Cust")[0].start == 0


def test_names_are_back_quoted_when_needed() -> None:
    context = CompletionContext(FieldSchema([FieldDef("order count", FieldType.NUMBER),
                                             FieldDef("Last", FieldType.TEXT)]),
                                event_types=["order completed"])
    assert "`order count`" in labels("", context) and "`Last`" in labels("", context)
    assert labels("event order", context) == ["`order completed`"]


def test_a_mistake_earlier_does_not_stop_completion() -> None:
    assert labels("City Krakow and Age ")[:2] == ["=", "!="]
    assert labels("Age >> 5 and Ci") == ["City"]
    assert labels('City equals "x" @ and Ci') == ["City"]


def test_nothing_fits_or_garbage() -> None:
    assert labels('City equals "x" Age ') == []
    assert complete("Age > 3", 100, CONTEXT)  # the offset is clamped
    assert complete("Age > 3", -5, CONTEXT)
    assert complete(None, 0, CONTEXT) == []  # type: ignore[arg-type]
    assert complete("x" * 300_000, 5, CONTEXT) == []
    assert complete("City = ", 7, CompletionContext(SCHEMA, values=1)) == []  # type: ignore[arg-type]


def test_inside_a_number_or_a_date_nothing_is_offered() -> None:
    assert labels("Age > 1|0") == []
    assert labels("Signup after 2024-05-0|1") == []
    assert labels("Age > 10") == ["and", "or"]


def test_limit() -> None:
    assert len(complete("", 0, CONTEXT, limit=3)) == 3


def test_value_request() -> None:
    assert value_request('City equals "Kr', 15, SCHEMA) == ("City", "Kr")
    assert value_request("City equals ", 12, SCHEMA) == ("City", "")
    assert value_request("Age = ", 6, SCHEMA) is None
    assert value_request('in list "V', 10, SCHEMA) is None


# --- properties ------------------------------------------------------------------------------------

FIELDS = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean",
          "Customer Status": "text"}
ATTRIBUTES = {"price": "number", "category": "text", "sent": "date", "gift": "boolean"}
EVENT_TYPES = ["MailClick", "product_purchased", "order completed"]
LISTS = ["VIP", "Gold"]
PROPERTY_CONTEXT = CompletionContext(
    FieldSchema([FieldDef(name, FieldType(kind)) for name, kind in FIELDS.items()]),
    event_types=EVENT_TYPES, lists=LISTS,
    values={name: list(STRINGS) for name, kind in FIELDS.items() if kind == "text"},
    attributes={event_type: list(ATTRIBUTES) for event_type in EVENT_TYPES})
_LITERALS = {"NUMBER", "DAY", "TIMESTAMP", "LPAR", "RPAR", "COMMA"}


@given(typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS))
def test_every_token_is_offered_where_it_stands(expr) -> None:
    text = format_expression(expr)
    tokens = recovery.lex(text).tokens
    for index, token in enumerate(tokens):
        if token.type in _LITERALS:
            continue
        if token.type == "STRING" and tokens[index - 1].type not in ("_LIST", "_SEGMENT"):
            field = next((t for t in reversed(tokens[:index]) if t.type in ("NAME", "QUOTED_NAME")))
            if FIELDS.get(str(field).strip("`")) != "text":
                continue  # attribute values are not known
        found = complete(text, token.start_pos, PROPERTY_CONTEXT)
        word = str(token).lower()
        assert any(s.label.split(" ")[0].lower() == word or s.label == str(token)
                   for s in found), (text, token.start_pos, token, [s.label for s in found])
        # typed halfway, the word is still offered, and replaces exactly the word
        if len(token) > 1 and token.type not in ("STRING", "QUOTED_NAME"):
            middle = token.start_pos + len(token) // 2
            found = complete(text, middle, PROPERTY_CONTEXT)
            chosen = [s for s in found if s.label.split(" ")[0].lower() == word]
            assert chosen, (text, middle, [s.label for s in found])
            assert (chosen[0].start, chosen[0].end) == (token.start_pos, token.end_pos)


def _valid_beginning(text: str) -> bool:
    parser = recovery.bare_parser()
    try:
        for token in recovery.lex(text).tokens:
            parser.feed_token(token)
    except UnexpectedToken:
        return False
    return not recovery.lex(text).errors


@given(typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS), st.data())
def test_every_suggestion_keeps_a_valid_beginning(expr, data) -> None:
    text = format_expression(expr)
    offset = data.draw(st.integers(0, len(text)))
    prefix = text[:offset]
    if not _valid_beginning(prefix):
        return  # cut inside a token
    for suggestion in complete(prefix, offset, PROPERTY_CONTEXT):
        assert 0 <= suggestion.start <= suggestion.end <= len(prefix)
        edited = prefix[:suggestion.start] + suggestion.insert_text + prefix[suggestion.end:]
        assert _valid_beginning(edited), (prefix, suggestion)


@given(st.one_of(st.text(max_size=60), expressions().map(format_expression)), st.data())
def test_complete_never_raises(text, data) -> None:
    offset = data.draw(st.integers(-2, len(text) + 2))
    for suggestion in complete(text, offset, CONTEXT):
        assert isinstance(suggestion, Suggestion)
        assert 0 <= suggestion.start <= suggestion.end <= len(text)


def test_a_window_after_a_total_offers_dates() -> None:
    """`sum of price > 0 between |`: the between opens a window of dates, not the number's
    (found by the property test above)."""
    for text in ("event MailClick sum of price > 0 between ",
                 "event MailClick sum of price = 0 between today and "):
        assert "today" in [s.label for s in complete(text, len(text), CONTEXT)], text
