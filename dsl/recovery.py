"""Reading broken text: a lexer that keeps going, and an LALR driver that recovers from errors.

`parse()` stops at the first problem; the language services need more. Diagnostics report
every syntax error of a text, and completion needs the parser's state at the cursor even
when something earlier is wrong. Both run the grammar's own LALR tables (the parser of
dsl/parser.py, through Lark's interactive parser), so what they accept is exactly what
`parse()` accepts.

Recovery, at a token the parser cannot take, tries in order:

1. **delete** the token (a stray word: `Age >> 5`);
2. **insert** one token the parser expects before it (a missing `and`, a missing value);
3. **replace** it by one the parser expects (`event MailClick occured`);
4. **skip** to the next `and`, `or`, `,` or `)` and treat the broken condition as one
   complete condition (panic mode on the parser's stack).

A repair counts only when the next few tokens then go through, so one mistake gives one
error, not a cascade.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Token, Tree
from lark.lexer import LexerThread
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParserState

from dsl import ast
from dsl.errors import SegmentError, SegmentSyntaxError
from dsl.parser import character_error, lark_parser, token_error

# Tokens that end a condition: where panic mode starts again.
SYNC = frozenset({"_AND", "_OR", "COMMA", "RPAR", "$END"})
# How many following tokens a repair must let through to be taken.
LOOKAHEAD = 3
# The nonterminals a skipped, broken piece of text stands for (tried in this order).
_STAND_INS = ("unary", "primary", "condition", "field_condition", "literal", "date", "where",
              "window", "count")

# The nodes that are conditions (or boolean structure over them): what a Poisoned keeps.
_EXPRESSIONS = (ast.And, ast.Or, ast.Not, ast.EventCondition, ast.InList, ast.InSegment,
                *ast.FIELD_CONDITIONS)

# A value for each terminal, for tokens the recovery inserts.
_REGEX_VALUES = {"NAME": "url", "QUOTED_NAME": "`x`", "STRING": '""', "NUMBER": "1",
                 "DAY": "2000-01-01", "TIMESTAMP": "2000-01-01T00:00:00Z",
                 "_DOESNT": "doesn't", "$END": ""}
# Preferred insertions first: a connective, then values and closing brackets.
_INSERT_ORDER = ("_AND", "RPAR", "STRING", "NUMBER", "NAME", "DAY", "COMMA", "_OR")


@dataclass
class Lexed:
    """The tokens of a text and the characters no token could start with."""

    tokens: list[Token]
    errors: list[SegmentSyntaxError] = field(default_factory=list)
    # (position, quote) of a text or back-quoted name still open at the end of the input.
    unclosed: tuple[int, str] | None = None


@lru_cache(maxsize=1)
def terminal_values() -> dict[str, str]:
    values = dict(_REGEX_VALUES)
    for terminal in lark_parser().terminals:
        if terminal.pattern.type == "str":
            values.setdefault(terminal.name, terminal.pattern.value)
    return values


def _lexer():
    """The parser's own lexer (Lark.lex() would build a new one, scanner and all, per call)."""
    return lark_parser().parser.lexer


def synthetic(terminal: str) -> Token:
    """A token of type `terminal`, made up by the recovery: it has no position."""
    return Token(terminal, terminal_values().get(terminal, ""))


def lex(text: str, *, max_errors: int = 1000) -> Lexed:
    """Every token of `text`. A character no token starts with is an error and is skipped;
    an unclosed quote becomes a text (or name) token up to the end of its line, so the
    parser can go on as if it were closed."""
    lexed = Lexed([])
    start = 0
    source = text
    while True:
        try:
            for token in LexerThread.from_text(_lexer(), source).lex(None):
                lexed.tokens.append(token)
            return lexed
        except UnexpectedCharacters as error:
            position = error.pos_in_stream
            char = text[position]
            problem = character_error(text, position, error.line, error.column)
            if len(lexed.errors) < max_errors:
                lexed.errors.append(problem)
            if char in "\"'`":
                end = text.find("\n", position)
                end = len(text) if end < 0 else end
                problem.end_column = error.column + (end - position)  # to the end of the line
                kind = "QUOTED_NAME" if char == "`" else "STRING"
                body = text[position:end]
                if body.endswith("\\") and not body.endswith("\\\\"):
                    body = body[:-1]
                lexed.tokens.append(Token(kind, body + char, start_pos=position,
                                          line=error.line, column=error.column,
                                          end_line=error.line,
                                          end_column=error.column + (end - position),
                                          end_pos=end))
                if end == len(text):
                    lexed.unclosed = (position, char)
                start = end
            else:
                start = position + 1
            # Lex again with everything read so far blanked out (line breaks kept, so
            # lines and columns stay right).
            source = re.sub(r"[^\n]", " ", text[:start]) + text[start:]


def end_token(text: str, tokens: list[Token]) -> Token:
    """The `$END` token, placed after the last token (where parse() reports it)."""
    if tokens and tokens[-1].end_pos is not None:
        return Token.new_borrow_pos("$END", "", tokens[-1])
    return Token("$END", "", start_pos=len(text), line=1, column=1, end_line=1, end_column=1,
                 end_pos=len(text))


# --- the parser -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _bare_conf():
    conf = copy(lark_parser().parse_interactive("").parser_state.parse_conf)
    conf.callbacks = {}  # no tree: only the states matter
    return conf


def bare_parser() -> InteractiveParser:
    """A fresh interactive parser that builds nothing (no callbacks): for states only."""
    parser = lark_parser().parse_interactive("")
    parser.parser_state.parse_conf = _bare_conf()
    return parser


class Poisoned:
    """Stands for a piece of the tree that could not be built (an error inside it), keeping
    `parts`: the largest complete conditions built below it from the text alone, where they
    stand for themselves (not inside an event's `where` or a `visited` condition, whose
    names are event attributes). Diagnostics type-check these parts, so a syntax error does
    not hide an unknown field beside it."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple = ()) -> None:
        self.parts = parts

    def __repr__(self) -> str:
        return "POISON"


POISON = Poisoned()

# Rules whose parts are not conditions on contacts: what was built inside them is dropped
# when they cannot be built.
_ATTRIBUTE_RULES = frozenset({"event_condition", "visited_condition", "where"})


def building_parser(errors: list[SegmentError]) -> InteractiveParser:
    """An interactive parser that builds the AST with parse()'s own builder, but records the
    errors the builder raises (a bad date, an unknown escape) in `errors` and goes on: a
    node with an error, and everything above it, becomes a Poisoned, as does a node with a
    token the recovery made up."""
    parser = lark_parser().parse_interactive("")
    conf = copy(parser.parser_state.parse_conf)
    conf.callbacks = {rule: _guarded(callback, errors, rule.origin.name)
                      for rule, callback in conf.callbacks.items()}
    parser.parser_state.parse_conf = conf
    return parser


def _items(children):
    """The children, looking into lists and the trees of repeated parts (`(_AND unary)*`)."""
    stack = list(reversed(children))
    while stack:
        child = stack.pop()
        if type(child) is list:
            stack.extend(reversed(child))
        elif isinstance(child, Tree):
            stack.extend(reversed(child.children))
        else:
            yield child


def _poisoned(children) -> bool:
    return any(isinstance(child, Poisoned) or (isinstance(child, Token) and child.end_pos is None)
               for child in _items(children))


def _parts(children, rule: str) -> Poisoned:
    """A Poisoned for a node of `rule` with these children, keeping their parts."""
    if rule in _ATTRIBUTE_RULES:
        return POISON
    parts = []
    for child in _items(children):
        if isinstance(child, Poisoned):
            parts.extend(child.parts)
        elif isinstance(child, _EXPRESSIONS):
            parts.append(child)
    return Poisoned(tuple(parts)) if parts else POISON


def _guarded(callback: Callable, errors: list[SegmentError], rule: str) -> Callable:
    def guarded(children):
        if _poisoned(children):
            return _parts(children, rule)
        try:
            return callback(children)
        except SegmentError as error:
            if error.line is not None:  # errors in made-up tokens have no position
                errors.append(error)
            return _parts(children, rule)
        except Exception:  # made-up tokens can upset a builder; they are never reported
            return POISON
    return guarded


def _bare_state(parser: InteractiveParser) -> ParserState:
    """A copy of the parser's stacks that builds nothing: cheap to try tokens on."""
    state = parser.parser_state
    return ParserState(_bare_conf(), state.lexer, list(state.state_stack),
                       list(state.value_stack))


def goes_through(parser: InteractiveParser, tokens) -> bool:
    """Would `parser` take every one of `tokens`? (`parser` is left as it was.)"""
    trial = _bare_state(parser)
    try:
        for token in tokens:
            trial.feed_token(token, token.type == "$END")
    except UnexpectedToken:
        return False
    return True


def accepted(parser: InteractiveParser) -> set[str]:
    """The terminals `parser` takes next: Lark's accepts(), without copying the lexer or
    building anything."""
    state = parser.parser_state
    conf = _bare_conf()
    found = set()
    for terminal in conf.parse_table.states[state.position]:
        if not terminal.isupper():
            continue
        trial = ParserState(conf, state.lexer, list(state.state_stack), list(state.value_stack))
        try:
            trial.feed_token(Token(terminal, ""), terminal == "$END")
        except UnexpectedToken:
            continue
        found.add(terminal)
    return found


def stack_tokens(parser: InteractiveParser) -> list[Token]:
    """The tokens shifted but not yet reduced: `event`, `where`, `in` ... still open."""
    return [value for value in parser.parser_state.value_stack if isinstance(value, Token)]


# --- recovery ------------------------------------------------------------------------------

@dataclass
class Run:
    """The outcome of feeding a token stream with recovery."""

    parser: InteractiveParser
    errors: list[SegmentSyntaxError]
    recoveries: int = 0
    last_error_index: int | None = None  # the index of the token the last error was at
    gave_up: bool = False
    result: object = None  # what the parser built, once `$END` went through


def feed(text: str, tokens: list[Token], parser: InteractiveParser, *, max_errors: int = 20,
         max_recoveries: int = 200, report: bool = True) -> Run:
    """Feed `tokens` (ending with `$END` or not) to `parser`, recovering from every error.

    `report=False` skips the error messages (completion needs the state only)."""
    run = Run(parser, [])
    stream = list(tokens)
    index = 0
    shifted_since_error = LOOKAHEAD
    while index < len(stream):
        token = stream[index]
        try:
            built = run.parser.feed_token(token)
        except UnexpectedToken:
            pass
        else:
            if token.type == "$END":
                run.result = built
            index += 1
            shifted_since_error += 1
            continue
        run.recoveries += 1
        run.last_error_index = index
        if run.recoveries > max_recoveries:
            run.gave_up = True
            return run
        if report and shifted_since_error >= 1:
            if len(run.errors) >= max_errors:
                run.gave_up = True
                return run
            run.errors.append(token_error(text, token, accepted(run.parser),
                                          _previous(stream, index)))
        shifted_since_error = 0
        step = _repair(run.parser, stream, index)
        if step is None:
            run.gave_up = True
            return run
        run.parser, index = step
    return run


def _previous(stream: list[Token], index: int) -> list[Token]:
    for token in reversed(stream[:index]):
        if token.end_pos is not None:  # a real token
            return [token]
    return []


def _repair(parser: InteractiveParser, stream: list[Token],
            index: int) -> tuple[InteractiveParser, int] | None:
    """A parser state and the index to go on from, after the error at stream[index]."""
    token = stream[index]
    ahead = stream[index + 1:index + 1 + LOOKAHEAD]
    is_end = token.type == "$END"
    # 1. delete
    if not is_end and ahead and goes_through(parser, ahead):
        return parser, index + 1
    # 2. insert one token before it
    fed = []  # the states after each acceptable token, in order: kept for step 3
    for terminal in _ordered(accepted(parser)):
        trial = parser.copy(deepcopy_values=False)
        try:
            trial.feed_token(synthetic(terminal))
        except UnexpectedToken:
            continue
        if goes_through(trial, stream[index:index + LOOKAHEAD]):
            return trial, index
        fed.append(trial)  # goes_through leaves it as it was
    # 3. replace it
    if not is_end:
        for trial in fed:
            if not ahead or goes_through(trial, ahead):
                return trial, index + 1
    # 4. skip to a token that ends a condition, standing in for what was skipped
    for sync in range(index, len(stream)):
        if stream[sync].type not in SYNC:
            continue
        repaired = _stand_in(parser, stream[sync:sync + LOOKAHEAD])
        if repaired is not None:
            return repaired, sync
        if stream[sync].type == "$END":
            break
    return None


def _ordered(terminals: set[str]) -> list[str]:
    first = [name for name in _INSERT_ORDER if name in terminals]
    return first + sorted(terminals - set(first) - {"$END"})


def _stand_in(parser: InteractiveParser, ahead: list[Token]) -> InteractiveParser | None:
    """Pop the parser's stack until some nonterminal there, taken as complete, lets
    `ahead` through: the skipped text then counts as that one piece (a condition)."""
    states = parser.parser_state.parse_conf.parse_table.states
    state_stack = parser.parser_state.state_stack
    for depth in range(len(state_stack), 0, -1):
        actions = states[state_stack[depth - 1]]
        for name in _STAND_INS:
            action = actions.get(name)
            if action is None:
                continue
            trial = parser.copy(deepcopy_values=False)
            trial.parser_state.state_stack[:] = state_stack[:depth] + [action[1]]
            trial.parser_state.value_stack[:] = (parser.parser_state.value_stack[:depth - 1]
                                                 + [POISON])
            if goes_through(trial, ahead):
                return trial
    return None


@dataclass
class Recovered:
    """A broken text read to its end: every error found on the way, and what was built."""

    errors: list[SegmentError]  # the lexer's, the parser's, then the builder's
    expression: object  # the expression, or a Poisoned (None when the recovery gave up)

    @property
    def parts(self) -> tuple:
        """The largest complete conditions on contacts that were built from the text alone
        (the whole expression when nothing was poisoned)."""
        if isinstance(self.expression, Poisoned):
            return self.expression.parts
        return () if self.expression is None else (self.expression,)


def recover(text: str, *, max_errors: int) -> Recovered:
    """Read `text` with recovery: every syntax error (up to `max_errors` of the parser's),
    and the pieces that could be built."""
    lexed = lex(text, max_errors=max_errors)
    built: list[SegmentError] = []
    tokens = lexed.tokens + [end_token(text, lexed.tokens)]
    run = feed(text, tokens, building_parser(built), max_errors=max_errors)
    return Recovered([*lexed.errors, *run.errors, *built],
                     None if run.gave_up else run.result)
