"""Lark's sets of expected terminals, said in words a marketer understands."""

from __future__ import annotations

from lark import Token

FIELD_OPERATORS = frozenset({
    "_EQUALS", "EQ_SIGN", "NE_SIGN", "GT_SIGN", "GTE_SIGN", "LT_SIGN", "LTE_SIGN", "_IS",
    "_STARTS", "_ENDS", "_CONTAINS", "_DOESNT", "_DOES", "_BEFORE", "_AFTER", "_BETWEEN",
    "_HAS",
})
VALUES = frozenset({"STRING", "NUMBER", "DAY", "TIMESTAMP", "_TODAY"})
CONDITION_STARTS = frozenset({"NAME", "QUOTED_NAME", "_EVENT", "_VISITED", "_ALL", "_ANY",
                              "_CAN", "_CANNOT"})
# What may follow `event T` besides occurred / did not occur: a total or first / last.
EVENT_FORMS = frozenset({"SUM", "AVERAGE", "MINIMUM", "MAXIMUM", "FIRST", "_LAST"})
UNITS = frozenset({"HOUR", "HOURS", "DAY_UNIT", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS"})
WINDOWS = frozenset({"_SINCE", "_BEFORE", "_BETWEEN"})
COUNTS = frozenset({"_AT", "_EXACTLY"})

# Words for the terminals that are not described as part of a group above; any other
# keyword is shown quoted ('and' or 'or'), so it never reads as part of the sentence.
_WORDS = {
    "$END": "the end of the expression", "RPAR": "')'", "LPAR": "'('", "COMMA": "','",
    "_DID": "'did not occur'", "_AT": "'at least' / 'at most'",
}


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def describe_expected(expected: set[str], before: list[Token]) -> str:
    """What the parser wanted at the error, e.g. 'an operator such as equals, ... after field City'.

    `expected` must be the terminals the parser really accepts there (see parser.py), and
    `before` the tokens up to the error.
    """
    expected = set(expected)
    previous = before[-1] if before else None
    parts: list[str] = []
    if _wants_operator(expected):
        after = ""
        if previous is not None and previous.type in ("NAME", "QUOTED_NAME"):
            after = f" after field {previous}"
        parts.append("an operator such as equals, contains, starts with, >, between, in, "
                     f"has value or is true{after}")
        expected -= FIELD_OPERATORS | {"_IN", "_NOT"}
    if "_OCCURRED" in expected and "_DID" in expected:
        after = f" after event {previous}" if previous is not None else ""
        parts.append(f"occurred or did not occur{after} (or first occurred, last occurred, "
                     "sum of, average of, minimum of, maximum of)")
        expected -= {"_OCCURRED", "_DID"} | EVENT_FORMS
    if expected & CONDITION_STARTS:
        parts.append("a condition (a field name, event, visited, in list, in segment, "
                     "can receive, all of or any of)")
        expected -= CONDITION_STARTS | {"_IN", "_NOT", "LPAR"}
    if expected & VALUES:
        kinds = []
        if "STRING" in expected:
            kinds.append('"text"')
        if "NUMBER" in expected:
            kinds.append("a number")
        if "DAY" in expected:
            kinds.append("a date such as 2024-05-01, today or 3 days ago")
        parts.append("a value: " + _join(kinds))
        expected -= VALUES
    if expected & UNITS:
        parts.append("a unit: hours, days, weeks or months")
        expected -= UNITS
    if expected & WINDOWS:
        counts = "at least / at most / exactly N times, " if expected & COUNTS else ""
        where = " or where" if "_WHERE" in expected else ""
        parts.append(f"{counts}a time window (in last, since, before, between){where}")
        expected -= COUNTS | WINDOWS | {"_IN", "_WHERE"}
    parts.extend(_WORDS.get(name, f"'{name.lstrip('_').lower()}'") for name in sorted(expected))
    return _join(parts)


def describe_found(token: Token, expected: set[str]) -> tuple[str, str | None]:
    """How the unexpected token reads, and a hint when a common slip explains it."""
    if token.type == "$END":
        return "the end of the expression", None
    hint = None
    if token.type == "NAME" and expected & {"STRING"}:
        hint = f'put text values in quotes: "{token}"'
    elif token.type == "NAME" and _wants_operator(expected):
        hint = "a field name with spaces is written in back-quotes: `Customer Status`"
    elif (token.type.startswith("_") or token.type in UNITS | EVENT_FORMS) \
            and expected & {"NAME"}:
        hint = f"{token} is a keyword; a field named so is written `{token}`"
    return f"'{token}'", hint


def _wants_operator(expected: set[str]) -> bool:
    # `equals` can follow a field name and nothing else; some other operator words
    # (before, between) also start an event window, so they prove nothing.
    return "_EQUALS" in expected
