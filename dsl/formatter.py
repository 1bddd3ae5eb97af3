"""AST → text: the one canonical printed form of a SegmentQL expression.

One small function per node type, looked up by type (like sqlglot's generator). The
output always parses back to an equal AST, and formatting parsed text is a fixed point.
Aliases (`=`/`equals`, `all of`, `day`/`days`, single quotes, keyword case) collapse to
one spelling each.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from dsl import ast
from dsl.operators import BY_KEY
from dsl.parser import lark_parser
from dsl.schema import FieldType

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b",
                   "\f": "\\f"}

_COUNTS = {ast.CountOp.AT_LEAST: "at least", ast.CountOp.AT_MOST: "at most",
           ast.CountOp.EXACTLY: "exactly"}


def format_expression(expr: ast.Expression) -> str:
    """The canonical text of `expr`; MatchAll (no conditions) is the empty string."""
    if isinstance(expr, ast.MatchAll):  # only at the top: nested, it has no text
        return ""
    return _fmt(expr)


def _fmt(node) -> str:
    try:
        formatter = _FORMATTERS[type(node)]
    except KeyError:
        raise TypeError(f"cannot format {node!r} as part of an expression") from None
    return formatter(node)


# --- names and literals ----------------------------------------------------------------

@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """The grammar's reserved words (lower case): a name equal to one needs back-quotes."""
    return frozenset(t.pattern.value.lower() for t in lark_parser().terminals
                     if t.pattern.type == "str" and t.pattern.value.isalpha())


def format_name(name: str) -> str:
    """A field, attribute or event type name: bare when it can be, else back-quoted."""
    if _BARE_NAME.fullmatch(name) and name.lower() not in keywords():
        return name
    return _quote(name, "`")


def _quote(text: str, quote: str) -> str:
    return quote + "".join(_escape(char, quote) for char in text) + quote


def _escape(char: str, quote: str) -> str:
    if char == quote:
        return "\\" + char
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    # Controls, and invisible characters (line separators, no-break spaces, unassigned
    # code points) too, so the text shows what it holds; beyond the BMP as a \u pair.
    units = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2]):04x}" for i in range(0, len(units), 2))


def _text(value: str) -> str:
    return _quote(value, '"')


def _number(node: ast.Number) -> str:
    # repr: the shortest text that reads back as the same float (`1e+20`, `0.1`).
    return repr(node.value) if isinstance(node.value, float) else str(node.value)


def _timestamp(node: ast.Timestamp) -> str:
    value = node.value.astimezone(dt.timezone.utc)
    text = f"{value.year:04d}-{value:%m-%dT%H:%M:%S}"
    millis = value.microsecond // 1000  # the parser keeps milliseconds, no finer
    return f"{text}.{millis:03d}Z" if millis else text + "Z"


def _amount(amount: int, unit: ast.Unit) -> str:
    return f"{amount} {unit.value[:-1] if amount == 1 else unit.value}"


# --- field conditions -----------------------------------------------------------------------

def _compare(node: ast.Compare) -> str:
    # `=` and `!=` in front of a number; words in front of text and dates.
    operator = BY_KEY[node.op]
    words = operator.words_for(FieldType.NUMBER if isinstance(node.value, ast.Number)
                               else FieldType.TEXT)
    return f"{format_name(node.field)} {words} {_fmt(node.value)}"


def _between(node: ast.Between) -> str:
    return f"{format_name(node.field)} between {_fmt(node.low)} and {_fmt(node.high)}"


def _in_values(node: ast.InValues) -> str:
    values = ", ".join(_fmt(value) for value in node.values)
    return f"{format_name(node.field)} {'not in' if node.negated else 'in'} ({values})"


def _has_value(node: ast.HasValue) -> str:
    return f"{format_name(node.field)} {'has value' if node.present else 'has no value'}"


def _is_bool(node: ast.IsBool) -> str:
    return f"{format_name(node.field)} is {'true' if node.value else 'false'}"


def _in_last(node: ast.InLast) -> str:
    return f"{format_name(node.field)} in last {_amount(node.amount, node.unit)}"


# --- event conditions -------------------------------------------------------------------

def _event(node: ast.EventCondition) -> str:
    where = node.where
    if (node.event_type == "PageVisit" and node.occurred
            and isinstance(where, ast.FIELD_CONDITIONS) and where.field == "url"):
        parts = ["visited", _fmt(where)]  # the parser's sugar for exactly this event
        where = None
    else:
        parts = ["event", format_name(node.event_type),
                 "occurred" if node.occurred else "did not occur"]
    if node.count is not None:
        times = "time" if node.count.times == 1 else "times"
        parts.append(f"{_COUNTS[node.count.op]} {node.count.times} {times}")
    if node.window is not None:
        parts.append(_fmt(node.window))
    if where is not None:
        parts.append(_where(where))
    return " ".join(parts)


def _where(where: ast.Expression) -> str:
    # `where` takes one unary: a bare condition, a `not (...)`, or a group in parentheses.
    return "where " + (f"({_fmt(where)})" if isinstance(where, (ast.And, ast.Or)) else _fmt(where))


def _total(node: ast.EventTotal) -> str:
    parts = ["event", format_name(node.event_type), f"{node.aggregate.value} of", _fmt(node.test)]
    if node.window is not None:
        parts.append(_fmt(node.window))
    if node.where is not None:
        parts.append(_where(node.where))
    return " ".join(parts)


def _event_time(node: ast.EventTime) -> str:
    test = _fmt(node.test)  # `time before ...`: the test without its field name
    test = test[len(format_name(node.test.field)) + 1:]
    return f"event {format_name(node.event_type)} {node.edge.value} occurred {test}"


def _can_receive(node: ast.CanReceive) -> str:
    return f"{'cannot' if node.negated else 'can'} receive {node.channel.value}"


# --- boolean structure ------------------------------------------------------------------

def _junction(word: str, bare):
    # The parser keeps parenthesised groups nested, so an And/Or operand of an And/Or gets
    # parentheses; only an And inside an Or reads right without them (and binds tighter):
    # `A or B and C` is Or(A, And(B, C)).
    def format_junction(node) -> str:
        return f" {word} ".join(
            f"({_fmt(operand)})" if isinstance(operand, (ast.And, ast.Or))
            and not isinstance(operand, bare) else _fmt(operand) for operand in node.operands)
    return format_junction


def _not(node: ast.Not) -> str:
    if isinstance(node.operand, (ast.InList, ast.InSegment)):
        return "not " + _fmt(node.operand)  # reads as `not in list "VIP"`
    return f"not ({_fmt(node.operand)})"


def _nested_everyone(node: ast.MatchAll) -> str:
    raise TypeError("the empty expression (every contact) has no text inside another one")


_FORMATTERS = {
    ast.MatchAll: _nested_everyone,
    ast.String: lambda node: _text(node.value),
    ast.Number: _number,
    ast.Day: lambda node: node.value.isoformat(),
    ast.Timestamp: _timestamp,
    ast.Today: lambda node: "today",
    ast.Ago: lambda node: _amount(node.amount, node.unit) + " ago",
    ast.Compare: _compare,
    ast.Between: _between,
    ast.InValues: _in_values,
    ast.HasValue: _has_value,
    ast.IsBool: _is_bool,
    ast.InLast: _in_last,
    ast.EventCondition: _event,
    ast.EventTotal: _total,
    ast.EventTime: _event_time,
    ast.CanReceive: _can_receive,
    ast.LastWindow: lambda node: "in last " + _amount(node.amount, node.unit),
    ast.SinceWindow: lambda node: f"since {_fmt(node.start)}",
    ast.BeforeWindow: lambda node: f"before {_fmt(node.end)}",
    ast.BetweenWindow: lambda node: f"between {_fmt(node.start)} and {_fmt(node.end)}",
    ast.InList: lambda node: "in list " + _text(node.name),
    ast.InSegment: lambda node: "in segment " + _text(node.ref),
    ast.And: _junction("and", bare=()),
    ast.Or: _junction("or", bare=ast.And),
    ast.Not: _not,
}
