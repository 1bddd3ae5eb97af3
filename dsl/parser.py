"""Text → AST: the Lark LALR parser, the tree builder, and readable syntax errors.

The builder runs inside the LALR parser (an inline transformer), so no parse tree is
built and nothing recurses: deeply nested input costs a list, not the Python stack.
Limits on length and depth are checked before anything else touches the tree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dsl import ast
from dsl.errors import SegmentError, SegmentLimitError, SegmentSyntaxError
from dsl.syntax_messages import describe_expected, describe_found
from dsl.values import parse_iso_datetime

MAX_EXPRESSION_LENGTH = 256 * 1024  # characters
MAX_DEPTH = 100  # nested and / or / not / where levels
MAX_SAFE_INTEGER = 2**53 - 1  # exact in JSON, JavaScript and BSON doubles alike

# The largest amount per unit that stays within 100 years of `now`.
MAX_AMOUNT = {ast.Unit.HOURS: 876_600, ast.Unit.DAYS: 36_525, ast.Unit.WEEKS: 5_218,
              ast.Unit.MONTHS: 1_200}

_UNITS = {"HOUR": ast.Unit.HOURS, "HOURS": ast.Unit.HOURS, "DAY_UNIT": ast.Unit.DAYS,
          "DAYS": ast.Unit.DAYS, "WEEK": ast.Unit.WEEKS, "WEEKS": ast.Unit.WEEKS,
          "MONTH": ast.Unit.MONTHS, "MONTHS": ast.Unit.MONTHS}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\",
            '"': '"', "'": "'", "`": "`", "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def parse(text: str) -> ast.Expression:
    """Parse SegmentQL text into an AST; raise SegmentSyntaxError (or a subclass) if it is not one."""
    if not isinstance(text, str):
        raise SegmentSyntaxError("an expression must be text")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise SegmentLimitError(
            f"the expression is {len(text):,} characters long; the limit is "
            f"{MAX_EXPRESSION_LENGTH:,}",
            suggestion="split it into segments and combine them with `in segment`")
    no_character = surrogate_error(text)
    if no_character is not None:
        raise no_character
    try:
        tree = lark_parser().parse(text)
    except SegmentError as error:
        raise error.with_source(text) from None
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    check_depth(tree, text)
    return tree


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_error(text: str) -> SegmentSyntaxError | None:
    """The error for the first lone UTF-16 surrogate in `text` (what a `\\ud800` JSON escape
    or an undecodable command-line byte becomes in Python): it is no character, so it could
    be neither stored nor printed. None when there is none."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    position = found.start()
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return SegmentSyntaxError(
        f"the text holds a lone UTF-16 surrogate (U+{ord(found.group()):04X}), which is no "
        "character", line=line, column=column, end_column=column + 1, source=text,
        suggestion="type the character itself, or write it as a complete \\uXXXX\\uXXXX pair")


def check_depth(tree: ast.Expression, text: str) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH (SegmentLimitError at the deepest node)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SegmentLimitError.at(
                node.span, f"the expression nests more than {MAX_DEPTH} levels deep",
                source=text, suggestion="flatten it with all of (...) / any of (...)")
        stack.extend((child, depth + 1) for child in ast.children(node))


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The LALR parser of grammar/segmentql.lark, building the AST as it parses (one per
    process; diagnostics, recovery and the formatter's keyword list read it too)."""
    grammar = resources.files("grammar").joinpath("segmentql.lark").read_text("utf-8")
    # cache=True: Lark keeps the analysed LALR tables in a file of the temporary folder,
    # keyed by a hash of grammar and options (rebuilt when they change or it cannot be
    # read): a command-line process builds its parser in 0.05 s instead of 0.6 s.
    return Lark(grammar, parser="lalr", lexer="basic", keep_all_tokens=True,
                maybe_placeholders=True, transformer=_Builder(), cache=True)


def tokens_before(text: str, offset: int) -> list[Token]:
    """The tokens that end at or before `offset` (for error messages and, later, completion)."""
    found = []
    try:
        for token in lark_parser().lex(text):
            if token.end_pos > offset:
                break
            found.append(token)
    except UnexpectedInput:
        pass
    return found


# --- syntax errors in words ---------------------------------------------------------------

def _syntax_error(text: str, error: UnexpectedInput) -> SegmentSyntaxError:
    if isinstance(error, UnexpectedCharacters):
        return character_error(text, error.pos_in_stream, error.line, error.column)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    offset = len(text) if token.type == "$END" else token.start_pos
    # LALR merges look-aheads of similar states, so `error.expected` can list terminals that
    # would fail a step later (a window after `a = 1`); `accepts()` tries each one.
    accepted = error.interactive_parser.accepts()
    return token_error(text, token, accepted, tokens_before(text, offset))


def character_error(text: str, position: int, line: int, column: int) -> SegmentSyntaxError:
    """The error for a character no token can start with (an unclosed quote, a stray `@`)."""
    char = text[position] if position < len(text) else ""
    if char in "\"'":
        message, hint = "this text is never closed", f"add the closing {char} on the same line"
    elif char == "`":
        message, hint = "this back-quoted name is never closed", "add the closing `"
    else:
        message, hint = f"unexpected character {char!r}", None
    return SegmentSyntaxError(message, line=line, column=column, start=position,
                              end=min(position + 1, len(text)), source=text, suggestion=hint)


def token_error(text: str, token: Token, accepted: set[str],
                before: list[Token]) -> SegmentSyntaxError:
    """The error for `token` where the parser accepts only the terminals `accepted`;
    `before` ends with the token preceding it (only the last one is read)."""
    if token.type == "$END":
        line, column = _end_position(text)
    else:
        line, column = token.line, token.column
    expected = describe_expected(accepted, before)
    found, hint = describe_found(token, accepted)
    end_column = column + max(1, len(token)) if token.type != "$END" else column
    start = len(text) if token.type == "$END" else token.start_pos
    return SegmentSyntaxError(f"expected {expected}, but found {found}", line=line,
                              column=column, end_column=end_column, start=start,
                              end=start + (len(token) if token.type != "$END" else 0),
                              source=text, suggestion=hint)


def _end_position(text: str) -> tuple[int, int]:
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    column = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, column


# --- the tree builder -----------------------------------------------------------------------

def _span(first, last) -> ast.Span:
    start = first if isinstance(first, Token) else first.span
    end = last if isinstance(last, Token) else last.span
    if isinstance(start, Token):
        line, column, start_pos = start.line, start.column, start.start_pos
    else:
        line, column, start_pos = start.line, start.column, start.start
    if isinstance(end, Token):
        end_line, end_column, end_pos = end.end_line, end.end_column, end.end_pos
    else:
        end_line, end_column, end_pos = end.end_line, end.end_column, end.end
    return ast.Span(line, column, end_line, end_column, start_pos, end_pos)


def _last(children):
    return next(child for child in reversed(children) if child is not None)


def _fail(where, message: str, suggestion: str | None = None):
    span = _span(where, where)
    raise SegmentSyntaxError.at(span, message, suggestion=suggestion)


def unescape(token: Token) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        if code in _ESCAPES:
            return _ESCAPES[code]
        _fail(token, f"unknown escape \\{code} in {token}",
              "escapes are \\\\, \\\", \\', \\n, \\t and \\uXXXX")

    text = _ESCAPE_RE.sub(replace, body)
    try:  # \uD83D\uDE00 pairs become one character; a lone half is an error
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        _fail(token, f"{token} holds an unpaired \\uD800-\\uDFFF escape")


def _integer(token: Token, what: str, minimum: int, maximum: int) -> int:
    if not re.fullmatch(r"-?\d+", token):
        _fail(token, f"{what} must be a whole number, not {token}")
    if len(token) > 20 or not minimum <= int(token) <= maximum:
        _fail(token, f"{what} must be from {minimum:,} to {maximum:,}, not {token}")
    return int(token)


def _amount(token: Token, unit: ast.Unit, minimum: int) -> int:
    return _integer(token, f"the number of {unit.value}", minimum, MAX_AMOUNT[unit])


class _Builder:
    """Lark callbacks, one per grammar rule or alias: children in, AST node out."""

    # boolean structure
    def start(self, children):
        return children[0] if children and children[0] is not None else ast.MatchAll()

    def or_expr(self, children):
        return ast.Or(tuple(children[::2]), span=_span(children[0], children[-1]))

    def and_expr(self, children):
        return ast.And(tuple(children[::2]), span=_span(children[0], children[-1]))

    def not_(self, children):
        return ast.Not(children[1], span=_span(children[0], children[1]))

    def primary(self, children):  # "(" expression ")"
        return children[1]

    def expression_list(self, children):
        return children[::2]

    def all_of(self, children):
        return self._group(ast.And, children)

    def any_of(self, children):
        return self._group(ast.Or, children)

    @staticmethod
    def _group(kind, children):
        operands = children[3]
        if len(operands) == 1:
            return operands[0]
        return kind(tuple(operands), span=_span(children[0], children[-1]))

    # names and literals
    def name(self, children):
        token = children[0]
        if token.type == "NAME":
            return token
        text = unescape(token)
        if not text.strip():
            _fail(token, "a back-quoted name cannot be empty")
        return Token.new_borrow_pos("QUOTED_NAME", text, token)

    def string(self, children):
        return ast.String(unescape(children[0]), span=_span(children[0], children[0]))

    def number(self, children):
        token = children[0]
        if re.fullmatch(r"-?\d+", token):
            value = _integer(token, "the number", -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
        else:
            value = float(token)
            if value in (float("inf"), float("-inf")):
                _fail(token, f"the number {token} is too large")
        return ast.Number(value, span=_span(token, token))

    def day(self, children):
        token = children[0]
        try:
            value = dt.date.fromisoformat(token)
        except ValueError:
            _fail(token, f"{token} is not a calendar date")
        return ast.Day(value, span=_span(token, token))

    def timestamp(self, children):
        token = children[0]
        return ast.Timestamp(_parse_timestamp(token), span=_span(token, token))

    def today(self, children):
        return ast.Today(span=_span(children[0], children[0]))

    def ago(self, children):
        number, unit_token, _ago = children
        unit = _UNITS[unit_token.type]
        return ast.Ago(_amount(number, unit, 0), unit, span=_span(number, children[-1]))

    def unit(self, children):
        return children[0]

    def literal_list(self, children):
        return children[::2]

    # field conditions
    def compare(self, children):
        name, op, value = children
        return ast.Compare(str(name), op, value, span=_span(name, value))

    def between(self, children):
        name, _between, low, _and, high = children
        return ast.Between(str(name), low, high, span=_span(name, high))

    def in_values(self, children):
        return ast.InValues(str(children[0]), tuple(children[3]), False,
                            span=_span(children[0], children[-1]))

    def not_in_values(self, children):
        return ast.InValues(str(children[0]), tuple(children[4]), True,
                            span=_span(children[0], children[-1]))

    def has_value(self, children):
        return ast.HasValue(str(children[0]), True, span=_span(children[0], children[-1]))

    def has_no_value(self, children):
        return ast.HasValue(str(children[0]), False, span=_span(children[0], children[-1]))

    def is_true(self, children):
        return ast.IsBool(str(children[0]), True, span=_span(children[0], children[-1]))

    def is_false(self, children):
        return ast.IsBool(str(children[0]), False, span=_span(children[0], children[-1]))

    def in_last(self, children):
        name, _in, _last, number, unit_token = children
        unit = _UNITS[unit_token.type]
        return ast.InLast(str(name), _amount(number, unit, 1), unit,
                          span=_span(name, unit_token))

    # event conditions
    def occurred(self, children):
        event, name, _occurred, count, window, where = children
        return ast.EventCondition(str(name), True, count, window, where,
                                  span=_span(event, _last(children)))

    def did_not_occur(self, children):
        event, name, _did, _not, _occur, window, where = children
        return ast.EventCondition(str(name), False, None, window, where,
                                  span=_span(event, _last(children)))

    def visited_condition(self, children):
        visited, condition, count, window = children
        if condition.field.lower() != "url":
            _fail(visited, f"visited takes url, not {condition.field}",
                  'write: visited url contains "/pricing"')
        condition = _with_field(condition, "url")
        return ast.EventCondition("PageVisit", True, count, window, condition,
                                  span=_span(visited, _last(children)))

    def aggregate(self, children):
        return ast.Aggregate(children[0].lower())

    def total_condition(self, children):
        event, name, aggregate, _of, test, window, where = children
        return ast.EventTotal(str(name), aggregate, test, window, where,
                              span=_span(event, _last(children)))

    def edge(self, children):
        return ast.Edge.FIRST if children[0].type == "FIRST" else ast.Edge.LAST

    def event_time_condition(self, children):
        event, name, edge, _occurred, test = children
        return ast.EventTime(str(name), edge, test, span=_span(event, test))

    def time_compare(self, children):
        op, value = children
        return ast.Compare(ast.EVENT_TIME_FIELD, op, value, span=value.span)

    def time_between(self, children):
        _between, low, _and, high = children
        return ast.Between(ast.EVENT_TIME_FIELD, low, high, span=_span(_between, high))

    def time_in_last(self, children):
        _in, _last, number, unit_token = children
        unit = _UNITS[unit_token.type]
        return ast.InLast(ast.EVENT_TIME_FIELD, _amount(number, unit, 1), unit,
                          span=_span(_in, unit_token))

    def can_receive(self, children):
        return self._can_receive(children, False)

    def cannot_receive(self, children):
        return self._can_receive(children, True)

    @staticmethod
    def _can_receive(children, negated: bool):
        first, _receive, name = children
        try:
            channel = ast.Channel(str(name).lower())
        except ValueError:
            _fail(name, f"{name} is not a channel", "the channels are email, sms and push")
        return ast.CanReceive(channel, negated, span=_span(first, name))

    def times(self, children):
        return children[0]

    def at_least(self, children):
        return self._count(ast.CountOp.AT_LEAST, children[0], children[2], children[3])

    def at_most(self, children):
        return self._count(ast.CountOp.AT_MOST, children[0], children[2], children[3])

    def exactly(self, children):
        return self._count(ast.CountOp.EXACTLY, children[0], children[1], children[2])

    @staticmethod
    def _count(op, first, number, last):
        times = _integer(number, "the number of times", 0, 1_000_000)
        return ast.Count(op, times, span=_span(first, last))

    def last_window(self, children):
        _in, _last, number, unit_token = children
        unit = _UNITS[unit_token.type]
        return ast.LastWindow(_amount(number, unit, 1), unit, span=_span(_in, unit_token))

    def since_window(self, children):
        return ast.SinceWindow(children[1], span=_span(children[0], children[1]))

    def before_window(self, children):
        return ast.BeforeWindow(children[1], span=_span(children[0], children[1]))

    def between_window(self, children):
        return ast.BetweenWindow(children[1], children[3], span=_span(children[0], children[3]))

    def where(self, children):
        _where, expression = children
        for node in ast.walk(expression):
            if not isinstance(node, (ast.And, ast.Or, ast.Not, *ast.FIELD_CONDITIONS)):
                raise SegmentSyntaxError.at(
                    node.span, "only event attribute conditions can follow where",
                    suggestion="put event, list and segment conditions outside the where")
        return expression

    def in_list(self, children):
        return ast.InList(children[2].value, span=_span(children[0], children[2]))

    def in_segment(self, children):
        return ast.InSegment(children[2].value, span=_span(children[0], children[2]))


def _operator_rule(op: ast.CompareOp):
    def rule(self, _):
        return op
    return rule


# The grammar's operator rules are named `op_<key>` after the operator table's keys
# (dsl/operators.py): each builds its CompareOp, whatever spelling was written.
for _op in ast.CompareOp:
    setattr(_Builder, f"op_{_op.value}", _operator_rule(_op))


def _with_field(condition, field: str):
    return replace(condition, field=field)


def _parse_timestamp(token: Token) -> dt.datetime:
    moment = parse_iso_datetime(token)  # the grammar has checked the shape; this the calendar
    if moment is None:
        try:
            dt.datetime.fromisoformat(str(token).replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            _fail(token, f"{token} is not a valid time", "write YYYY-MM-DDTHH:MM:SSZ")
        _fail(token, f"{token} is outside the years 1 to 9999 once converted to UTC",
              "write a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z")
    return moment
