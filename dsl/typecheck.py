"""Does a parsed expression fit a profile database? Fields, operators, values, events, lists.

The parser knows only the language; this module knows the schema. It reports every problem
at once, in source order, each at its node's span: a user fixing a long expression should
not have to run the check once per mistake.

Event attributes have no schema (integrators send any flat object), so inside `where` an
attribute's type is the type of the value it is compared with, and the same operator table
applies: `price starts with 5` is as wrong as `Age starts with 5`.
"""

from __future__ import annotations

from collections.abc import Collection

from dsl import ast
from dsl.errors import SegmentError, SegmentErrors, SegmentTypeError
from dsl.formatter import format_expression
from dsl.operators import OPERATORS, words_of
from dsl.parser import parse
from dsl.schema import (SYSTEM_EVENT_TYPES, FieldSchema, FieldType, closest_name,
                        validate_attribute_name)

_C = ast.CompareOp
TEXT, NUMBER, DATE, BOOLEAN = FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN

_KIND_WORDS = {TEXT: "text", NUMBER: "a number", DATE: "a date"}  # what a literal can be
_DATE_HINT = "write a date such as 2024-05-01, 2024-05-01T10:00:00Z, today or 3 days ago"
_WHERE_HINT = ('an "and" after a bare where belongs to the outer expression: to test an event '
               "attribute, put the where conditions in parentheses")
# A misspelt event type is an error, but a new custom event nobody has sent yet is not:
# only a near-identical known name makes an unknown type suspicious.
_EVENT_CUTOFF = 0.85


def check(expr: ast.Expression, schema: FieldSchema, *, source: str | None = None,
          event_types: Collection[str] | None = None,
          lists: Collection[str] | None = None) -> list[SegmentTypeError]:
    """Every problem of `expr` against the schema, in source order (empty when it fits).

    `event_types` and `lists` are the known names; None means "do not check them".
    In-segment references are resolved (and their cycles found) by the store.
    """
    checker = _Checker(schema, source, event_types, lists)
    checker.run(expr)
    return checker.problems


def require_valid(expr: ast.Expression, schema: FieldSchema, *, source: str | None = None,
                  event_types: Collection[str] | None = None,
                  lists: Collection[str] | None = None) -> None:
    """Raise SegmentErrors with every problem of `expr`, if it has any."""
    problems = check(expr, schema, source=source, event_types=event_types, lists=lists)
    if problems:
        raise SegmentErrors(tuple(problems))


class _Checker:
    def __init__(self, schema, source, event_types, lists) -> None:
        self.schema = schema
        self.source = source
        self.event_types = (None if event_types is None
                            else frozenset(event_types) | SYSTEM_EVENT_TYPES)
        self.lists = None if lists is None else frozenset(lists)
        self.problems: list[SegmentTypeError] = []

    def run(self, expr: ast.Expression) -> None:
        # Depth first without recursion (trees can be deep), carrying whether the node is an
        # event attribute condition and which node precedes it in an `and`.
        stack: list[tuple[ast.Expression, bool, ast.Expression | None]] = [(expr, False, None)]
        while stack:
            node, attribute, previous = stack.pop()
            if isinstance(node, ast.FIELD_CONDITIONS):
                if attribute:
                    self._attribute(node)
                else:
                    self._field(node, previous)
            elif isinstance(node, ast.EventCondition):
                self._event(node)
            elif isinstance(node, ast.EventTotal):
                self._event(node)
                self._total(node)
            elif isinstance(node, ast.EventTime):
                self._event(node)
                self._time(node)
            elif isinstance(node, ast.InList):
                self._list(node)
            below = ast.children(node)
            before = (None, *below[:-1]) if isinstance(node, ast.And) else (None,) * len(below)
            attribute = attribute or isinstance(node, (ast.EventCondition, ast.EventTotal))
            stack.extend(reversed([(child, attribute, prior)
                                   for child, prior in zip(below, before)]))

    def _report(self, node, message: str, suggestion: str | None) -> None:
        self.problems.append(SegmentTypeError.at(node.span, message, source=self.source,
                                                 suggestion=suggestion))

    # --- contact fields -------------------------------------------------------------------

    def _field(self, node: ast.FieldCondition, previous: ast.Expression | None) -> None:
        field = self.schema.get(node.field)
        if field is None:
            hints = []
            close = self.schema.suggest(node.field)
            if close is not None:
                hints.append(f"did you mean {close}?")
            if _bare_where(previous):
                hints.append(_WHERE_HINT)
            self._report(node, f"unknown field {node.field}",
                         "; ".join(hints) or "declare the field before using it")
            return
        operator = _operator(node)
        accepted = OPERATORS[field.type]
        if operator not in accepted:
            hint = (f"write {node.field} is true, or {node.field} is false"
                    if field.type is BOOLEAN
                    else f"{_word(operator)} works on {_types_of(operator)} fields")
            self._report(node, f"{node.field} is a {field.type.value} field; it accepts "
                               f"{', '.join(accepted.values())}", hint)
            return
        wrong = [literal for literal in literals_of(node) if literal_type(literal) is not field.type]
        for literal in wrong:
            shown = self._show(literal)
            self._report(literal, f"{node.field} is a {field.type.value} field; {shown} is "
                                  f"{_KIND_WORDS[literal_type(literal)]}",
                         _retype_hint(field.type, literal, shown))
        if not wrong:
            self._between_order(node)

    # --- event attributes -------------------------------------------------------------------

    def _attribute(self, node: ast.FieldCondition) -> None:
        try:
            validate_attribute_name(node.field)
        except SegmentTypeError as error:
            self._report(node, error.message, error.suggestion)
            return
        literals = literals_of(node)
        kinds = [literal_type(literal) for literal in literals]
        odd = next((literal for literal, kind in zip(literals, kinds) if kind is not kinds[0]),
                   None)
        if odd is not None:
            first = literals[0]
            what = ("between needs two values" if isinstance(node, ast.Between)
                    else "in (...) needs values")
            self._report(odd, f"{what} of one type; {self._show(first)} is "
                              f"{_KIND_WORDS[kinds[0]]} and {self._show(odd)} is "
                              f"{_KIND_WORDS[literal_type(odd)]}",
                         f"an event attribute takes the type of its values: compare "
                         f"{node.field} with one type")
            return
        operator = _operator(node)
        if literals and operator not in OPERATORS[kinds[0]]:
            shown = self._show(literals[0])
            hint = (f'put text in quotes: "{shown}"' if _types_of(operator) == "text"
                    else f"an event attribute takes the type of its value; compared with "
                         f"{_KIND_WORDS[kinds[0]]}, {node.field} accepts "
                         f"{', '.join(OPERATORS[kinds[0]].values())}")
            self._report(node, f"{_word(operator)} needs {_needs(operator)}; the event "
                               f"attribute {node.field} is compared with "
                               f"{_KIND_WORDS[kinds[0]]} ({shown})", hint)
            return
        self._between_order(node)

    # --- events, lists, ranges ----------------------------------------------------------------

    def _event(self, node: ast.EventCondition | ast.EventTotal | ast.EventTime) -> None:
        if self.event_types is not None and node.event_type not in self.event_types:
            close = closest_name(node.event_type, self.event_types, cutoff=_EVENT_CUTOFF)
            if close is not None:
                self._report(node, f"unknown event {node.event_type}", f"did you mean {close}?")
        window = getattr(node, "window", None)
        if isinstance(window, ast.BetweenWindow):
            self._order(window, window.start, window.end, "between")

    def _total(self, node: ast.EventTotal) -> None:
        """A total is a number: its test takes the number operators and number values."""
        test = node.test
        try:
            validate_attribute_name(test.field)
        except SegmentTypeError as error:
            self._report(test, error.message, error.suggestion)
            return
        self._typed_test(test, NUMBER, f"the {node.aggregate.value} of {test.field}",
                         f"write e.g. event {node.event_type} {node.aggregate.value} of "
                         f"{test.field} > 100")

    def _time(self, node: ast.EventTime) -> None:
        """The first / last time is a date: its test takes the date operators and dates."""
        self._typed_test(node.test, DATE, f"the {node.edge.value} time of {node.event_type}",
                         f"write e.g. event {node.event_type} {node.edge.value} occurred "
                         "before 30 days ago")

    def _typed_test(self, test: ast.FieldCondition, kind: FieldType, what: str,
                    example: str) -> None:
        accepted = {op: word for op, word in OPERATORS[kind].items()
                    if op not in ("has value", "has no value") or kind is NUMBER}
        operator = _operator(test)
        if operator not in accepted:
            self._report(test, f"{what} is {_KIND_WORDS[kind]}; it accepts "
                               f"{', '.join(accepted.values())}", example)
            return
        wrong = [literal for literal in literals_of(test) if literal_type(literal) is not kind]
        for literal in wrong:
            shown = self._show(literal)
            self._report(literal, f"{what} is {_KIND_WORDS[kind]}; {shown} is "
                                  f"{_KIND_WORDS[literal_type(literal)]}",
                         _retype_hint(kind, literal, shown))
        if not wrong and isinstance(test, ast.Between):
            self._order(test, test.low, test.high, "between")

    def _list(self, node: ast.InList) -> None:
        if self.lists is None or node.name in self.lists:
            return
        close = closest_name(node.name, self.lists)
        if close is not None:
            hint = f"did you mean {close}?"
        elif self.lists:
            names = sorted(self.lists)
            hint = "the lists are " + ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        else:
            hint = "there are no lists yet"
        self._report(node, f"no list named {node.name}", hint)

    def _between_order(self, node: ast.FieldCondition) -> None:
        if isinstance(node, ast.Between):
            self._order(node, node.low, node.high, f"{node.field} between")

    def _order(self, node, low: ast.Literal, high: ast.Literal, written: str) -> None:
        if _comparable(low, high) and _order_key(low) > _order_key(high):
            self._report(node, "between needs the smaller value first",
                         f"write {written} {self._show(high)} and {self._show(low)}")

    def _show(self, literal: ast.Literal) -> str:
        """The literal as the user wrote it (or, without source, as it is written)."""
        if self.source is not None and literal.span is not None:
            return self.source[literal.span.start:literal.span.end]
        return format_expression(literal)  # the formatter prints literals too


def _bare_where(node: ast.Expression | None) -> bool:
    # A where holding And/Or was parenthesised; anything else may be the bare kind whose
    # following `and` surprised the user.
    return (isinstance(node, ast.EventCondition) and node.where is not None
            and not isinstance(node.where, (ast.And, ast.Or)))


def _operator(node: ast.FieldCondition) -> object:
    if isinstance(node, ast.Compare):
        return node.op
    if isinstance(node, ast.Between):
        return "between"
    if isinstance(node, ast.InValues):
        return "not in" if node.negated else "in"
    if isinstance(node, ast.IsBool):
        return "is true" if node.value else "is false"
    if isinstance(node, ast.InLast):
        return "in last"
    return "has value" if node.present else "has no value"


def _word(operator: object) -> str:
    return words_of(operator)


def _types(operator: object) -> list[FieldType]:
    return [kind for kind, accepted in OPERATORS.items() if operator in accepted]


def _types_of(operator: object) -> str:
    return _join([kind.value for kind in _types(operator)], "and")


def _needs(operator: object) -> str:
    return _join([_KIND_WORDS[kind] for kind in _types(operator)], "or")


def _join(words: list[str], conjunction: str) -> str:
    return f" {conjunction} ".join(filter(None, [", ".join(words[:-1]), words[-1]]))


def literals_of(node: ast.FieldCondition) -> tuple[ast.Literal, ...]:
    """The values a field condition compares with (none for has value, is true, in last)."""
    if isinstance(node, ast.Compare):
        return (node.value,)
    if isinstance(node, ast.Between):
        return (node.low, node.high)
    if isinstance(node, ast.InValues):
        return node.values
    return ()


def literal_type(literal: ast.Literal) -> FieldType:
    """The type of a value as written: text, number, or a date (today, N days ago too)."""
    if isinstance(literal, ast.String):
        return TEXT
    if isinstance(literal, ast.Number):
        return NUMBER
    return DATE


def _retype_hint(field_type: FieldType, literal: ast.Literal, shown: str) -> str:
    if field_type is TEXT:
        return f'put text in quotes: "{shown}"'
    unquoted = _unquoted(literal.value) if isinstance(literal, ast.String) else None
    if field_type is NUMBER:
        if isinstance(unquoted, ast.Number):
            return f"write numbers without quotes: {literal.value.strip()}"
        return "write a number such as 42"
    if isinstance(unquoted, ast.DATE_LITERALS):
        return f"write dates without quotes: {literal.value.strip()}"
    return _DATE_HINT


def _unquoted(text: str) -> ast.Literal | None:
    """What quoted text would be without its quotes, when it reads as one value."""
    if len(text) > 40:
        return None
    try:
        node = parse(f"x = {text}")
    except SegmentError:
        return None
    return node.value if isinstance(node, ast.Compare) else None


def _comparable(low: ast.Literal, high: ast.Literal) -> bool:
    # Absolute values of one kind have a fixed order; `N units ago` has one within its unit
    # (a week ago vs 7 days ago, or months vs days, would depend on `now`).
    if type(low) is not type(high) or isinstance(low, (ast.String, ast.Today)):
        return False
    return not isinstance(low, ast.Ago) or low.unit is high.unit


def _order_key(literal: ast.Literal):
    return -literal.amount if isinstance(literal, ast.Ago) else literal.value

