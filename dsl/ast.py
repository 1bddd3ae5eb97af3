"""The typed AST of SegmentQL: frozen dataclasses, one node per concept.

Every node carries its source `span` (None for nodes built in code). Spans never take
part in equality, so `parse(format(ast)) == ast` compares meaning, not layout.

And/Or always have two or more operands: `all of (A)` is just `A`. Parenthesised
sub-expressions stay nested (`A and (B and C)` is And(A, And(B, C))), so the formatter
can print any tree back to text that parses to the same tree.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node stands in the source: 1-based line and column, 0-based offsets."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


def _span() -> Span | None:
    return field(default=None, compare=False, repr=False, kw_only=True)


class Unit(enum.Enum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


# --- literals ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar day (`2024-05-01`): compared by whole UTC day."""

    value: dt.date
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Timestamp:
    """An instant (`2024-05-01T10:00:00Z`), always timezone-aware UTC."""

    value: dt.datetime
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Today:
    """The UTC calendar day of the evaluation time `now`."""

    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Ago:
    """`N days ago` (also weeks, months: a calendar day) or `N hours ago` (an instant)."""

    amount: int
    unit: Unit
    span: Span | None = _span()


DateLiteral = Union[Day, Timestamp, Today, Ago]
Literal = Union[String, Number, DateLiteral]


# --- field (and event attribute) conditions ------------------------------------------------

class CompareOp(enum.Enum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    BEFORE = "before"
    AFTER = "after"


NEGATIVE_OPS = frozenset({CompareOp.NOT_EQUALS, CompareOp.NOT_CONTAINS})


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: CompareOp
    value: Literal
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """`field between low and high`, both ends included."""

    field: str
    low: Literal
    high: Literal
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class InValues:
    """`field in (a, b)`; `negated` for `not in`."""

    field: str
    values: tuple[Literal, ...]
    negated: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class HasValue:
    """`has value` (present=True) or `has no value` (missing, null or empty text)."""

    field: str
    present: bool
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class IsBool:
    field: str
    value: bool
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class InLast:
    """A date within `now - amount unit <= value <= now`."""

    field: str
    amount: int
    unit: Unit
    span: Span | None = _span()


FieldCondition = Union[Compare, Between, InValues, HasValue, IsBool, InLast]


# --- event conditions ------------------------------------------------------------------------

class CountOp(enum.Enum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    EXACTLY = "exactly"


@dataclass(frozen=True, slots=True)
class Count:
    op: CountOp
    times: int
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class LastWindow:
    """`in last N units`: now - N units <= time <= now."""

    amount: int
    unit: Unit
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class SinceWindow:
    start: DateLiteral
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class BeforeWindow:
    end: DateLiteral
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class BetweenWindow:
    start: DateLiteral
    end: DateLiteral
    span: Span | None = _span()


Window = Union[LastWindow, SinceWindow, BeforeWindow, BetweenWindow]


@dataclass(frozen=True, slots=True)
class EventCondition:
    """`event T occurred [count] [window] [where ...]` or `event T did not occur ...`.

    `where` is a boolean expression of attribute conditions (field conditions whose
    field is an event attribute). `count` is None for a plain `occurred` (at least once)
    and always None for `did not occur`.
    """

    event_type: str
    occurred: bool = True
    count: Count | None = None
    window: Window | None = None
    where: Expression | None = None
    span: Span | None = _span()


class Aggregate(enum.Enum):
    SUM = "sum"
    AVERAGE = "average"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"


@dataclass(frozen=True, slots=True)
class EventTotal:
    """`event T sum of A <number test> [window] [where ...]` (also average, minimum, maximum).

    `test` is a number condition on the total, written with the attribute's name as its
    field (`sum of price > 500` tests `price > 500` on the sum). Attribute values that are
    not numbers are ignored; with no numeric event the sum is 0 and the others have no value.
    """

    event_type: str
    aggregate: Aggregate
    test: FieldCondition
    window: Window | None = None
    where: Expression | None = None
    span: Span | None = _span()

    @property
    def attribute(self) -> str:
        return self.test.field


class Edge(enum.Enum):
    FIRST = "first"
    LAST = "last"


# The field name of an EventTime's test: the time of the first / last event.
EVENT_TIME_FIELD = "time"


@dataclass(frozen=True, slots=True)
class EventTime:
    """`event T first occurred <date test>` / `event T last occurred <date test>`: a date
    condition on the time of the contact's first (last) event of type T, read from the
    per-contact summary. `test.field` is always EVENT_TIME_FIELD."""

    event_type: str
    edge: Edge
    test: FieldCondition
    span: Span | None = _span()


class Channel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


@dataclass(frozen=True, slots=True)
class CanReceive:
    """`can receive C` (or `cannot receive C` when negated): the contact has an address for
    channel C and is neither unsubscribed nor suppressed for it."""

    channel: Channel
    negated: bool = False
    span: Span | None = _span()


# --- memberships -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InList:
    name: str
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class InSegment:
    """Another segment's current definition, by name or id."""

    ref: str
    span: Span | None = _span()


Condition = Union[FieldCondition, EventCondition, EventTotal, EventTime, CanReceive, InList,
                  InSegment]


# --- boolean structure -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expression, ...]
    span: Span | None = _span()

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("And needs at least two operands")


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expression, ...]
    span: Span | None = _span()

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("Or needs at least two operands")


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expression
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class MatchAll:
    """The empty expression: a segment with no conditions selects every contact."""

    span: Span | None = _span()


Expression = Union[And, Or, Not, Condition, MatchAll]

FIELD_CONDITIONS = (Compare, Between, InValues, HasValue, IsBool, InLast)
DATE_LITERALS = (Day, Timestamp, Today, Ago)
# Conditions on a contact's events of one type (each has `event_type`).
EVENT_CONDITIONS = (EventCondition, EventTotal, EventTime)
# Every class an expression node can be: each pass (formatter, compiler, evaluator,
# explain) dispatches on these from one table, and tests/dsl/test_dispatch.py checks that
# every table covers them all.
EXPRESSION_NODES = (And, Or, Not, MatchAll, InList, InSegment, CanReceive, *EVENT_CONDITIONS,
                    *FIELD_CONDITIONS)


def dispatch(table: dict, node, what: str):
    """`table[type(node)]`; an unknown node is an error, never a guess."""
    try:
        return table[type(node)]
    except KeyError:
        raise TypeError(f"cannot {what} a {type(node).__name__} node") from None


def children(node: Expression) -> tuple[Expression, ...]:
    """The boolean sub-expressions directly below `node` (event `where` included)."""
    if isinstance(node, (And, Or)):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, (EventCondition, EventTotal)) and node.where is not None:
        return (node.where,)
    return ()


def walk(node: Expression):
    """Every expression node, depth first, without recursion (trees can be deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
