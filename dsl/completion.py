"""Completion: what can be typed at the cursor, from the LALR parser's own state.

`complete(text, offset, context)` lexes the text before the cursor, feeds its tokens to the
grammar's LALR parser (recovering from earlier mistakes, dsl/recovery.py) and asks the
parser which terminals it takes next. Those terminals, and the words still open on the
parser's stack (`event`, `where`, `in list` ...), decide what is offered:

- where a condition starts: the schema's fields (with their types) and the condition
  keywords (event, visited url, in list, in segment, not, all of, any of);
- after a field: only the operators its type accepts (the type checker's table);
- after `event`: event types; after `in list` / `in segment`: list / segment names, quoted;
- where a text field's value goes: the field's most frequent values, quoted;
- after the number of `in last N` or `N ... ago`: units; elsewhere the keywords that can
  follow (and, or, at least, in last, where ...).

The word under the cursor (a half-typed keyword, name, or an unterminated string) is
replaced by the chosen suggestion and filters the list: names starting with it first
(ignoring letter case), then names containing it. `complete` never raises: on any input it
returns a list, empty at worst. Everything returned is a plain dataclass, so a GraphQL
resolver can hand it out as it is.
"""

from __future__ import annotations

import enum
import re
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Token

from dsl import ast, recovery
from dsl.formatter import format_expression, format_name
from dsl.parser import MAX_EXPRESSION_LENGTH
from dsl.schema import SYSTEM_EVENT_TYPES, FieldSchema, FieldType
from dsl.operators import OPERATOR_TABLE, OPERATORS


class SuggestionKind(str, enum.Enum):
    FIELD = "field"
    OPERATOR = "operator"
    KEYWORD = "keyword"
    EVENT = "event"
    LIST = "list"
    SEGMENT = "segment"
    VALUE = "value"
    UNIT = "unit"


@dataclass(frozen=True)
class Suggestion:
    """One thing to insert: replace `text[start:end]` by `insert_text`."""

    label: str
    kind: SuggestionKind
    detail: str
    insert_text: str
    start: int
    end: int


ValueSource = Mapping[str, Sequence[str]] | Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class CompletionContext:
    """What the profile database knows: fields, event types, lists, segments, values.

    `values` gives a text field's most frequent values, most frequent first: a mapping of
    field name to values, or a function of the field name. `attributes` (optional) maps an
    event type to the attribute names its events have, for `where`."""

    schema: FieldSchema = field(default_factory=FieldSchema)
    event_types: Collection[str] = ()
    lists: Collection[str] = ()
    segments: Collection[str] = ()
    values: ValueSource | None = None
    attributes: Mapping[str, Sequence[str]] | None = None


_NAMES = frozenset({"NAME", "QUOTED_NAME"})
_VALUES = frozenset({"STRING", "NUMBER", "DAY", "TIMESTAMP", "_TODAY"})
_UNITS = {"HOURS": "hours", "DAYS": "days", "WEEKS": "weeks", "MONTHS": "months"}
_SINGULAR = {"hours": "hour", "days": "day", "weeks": "week", "months": "month"}
_UNIT_TERMINALS = {"hours": "HOURS", "days": "DAYS", "weeks": "WEEKS", "months": "MONTHS",
                   "hour": "HOUR", "day": "DAY_UNIT", "week": "WEEK", "month": "MONTH"}
_SYMBOLS = frozenset({"EQ_SIGN", "NE_SIGN", "GT_SIGN", "GTE_SIGN", "LT_SIGN", "LTE_SIGN"})
# Tokens after which the cursor stands on a new word without a space.
_OPENERS = frozenset({"LPAR", "COMMA"})
# Complete tokens: with the cursor right after one, the next word is offered.
_COMPLETE = frozenset({"NUMBER", "DAY", "TIMESTAMP", "STRING", "QUOTED_NAME", "RPAR"})
# The words an operator is made of (between the field and its value).
_OPERATOR_WORDS = frozenset({"_IS", "_NOT", "_HAS", "_NO", "_DOES", "_STARTS", "_ENDS",
                             "_EQUAL", "_IN", "_DOESNT"})
_WORD_AFTER = re.compile(r"[A-Za-z0-9_'\u2019]*")
_SYMBOL_AFTER = re.compile(r"[<>=!]*")
_SYMBOL_BEFORE = re.compile(r"[<>=!]+\Z")

_C = ast.CompareOp


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    terminals: tuple[str, ...]


@lru_cache(maxsize=None)
def _phrase(text: str) -> _Phrase:
    """`"is not equal to"` → its words and the terminals the lexer makes of them."""
    words = tuple(text.split())
    terminals = []
    values = {value.lower(): name for name, value in recovery.terminal_values().items()
              if name.startswith("_") or name in ("LPAR", "RPAR", "COMMA") or name in _SYMBOLS
              or name in _NAMED_KEYWORDS}
    for word in words:
        terminals.append("_DOESNT" if word == "doesn't" else
                         "NAME" if word == "url" else values[word])
    return _Phrase(words, tuple(terminals))


def _spellings(operator, first: str) -> tuple[str, ...]:
    """`first`, then the operator's other spellings; a value list opens its parenthesis."""
    opening = " (" if operator.key in ("in", "not in") else ""
    spellings = dict.fromkeys((first, operator.words, *operator.aliases))
    return tuple(spelling + opening for spelling in spellings)


# Each operator of the table (dsl/operators.py), its canonical spelling first, then aliases;
# numbers read best with symbols (as the formatter writes them).
_OPERATOR_PHRASES: dict[object, tuple[str, ...]] = {
    operator.key: _spellings(operator, operator.words) for operator in OPERATOR_TABLE}
_NUMBER_FIRST = {operator.key: _spellings(operator, operator.number_words)
                 for operator in OPERATOR_TABLE if operator.number_words}

# Keywords the builder reads by terminal name (so not `_`-prefixed in the grammar).
_NAMED_KEYWORDS = frozenset({"SUM", "AVERAGE", "MINIMUM", "MAXIMUM", "FIRST"})

# Keyword phrases: (text, kind of position, detail).
_CONDITION_KEYWORDS = (
    ("event", "an event condition: event MailClick occurred"),
    ("visited url", 'page visits: visited url contains "/pricing"'),
    ("can receive", "has an address for a channel and is not unsubscribed or suppressed"),
    ("cannot receive", "the opposite of can receive"),
    ("in list", "a static list's members"),
    ("in segment", "another segment's members"),
    ("not", "the opposite of the next condition"),
    ("all of (", "all of these conditions (and)"),
    ("any of (", "any of these conditions (or)"),
)
_FOLLOW_KEYWORDS = (
    ("and", "both conditions"),
    ("or", "either condition"),
    ("occurred", "at least once (or as counted)"),
    ("did not occur", "not once"),
    ("first occurred", "the time of the first such event, tested with a date operator"),
    ("last occurred", "the time of the last such event, tested with a date operator"),
    ("sum of", "the sum of a number attribute over the matching events (0 without any)"),
    ("average of", "the average of a number attribute over the matching events"),
    ("minimum of", "the smallest value of a number attribute"),
    ("maximum of", "the largest value of a number attribute"),
    ("at least", "at least N times"),
    ("at most", "at most N times (zero included)"),
    ("exactly", "exactly N times"),
    ("in last", "a time window: in last N days"),
    ("since", "a time window: since a date"),
    ("before", "a time window: before a date"),
    ("between", "a time window: between two dates"),
    ("where", "a condition on the event's attributes"),
    ("ago", "N units before now"),
)


@dataclass
class _Candidate:
    label: str
    kind: SuggestionKind
    detail: str
    insert_text: str
    keys: tuple[str, ...]  # what the typed word is matched against
    folded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.folded = tuple(key.casefold() for key in self.keys)


@dataclass
class _Cursor:
    tokens: list[Token]  # complete tokens before the word being typed
    partial: str  # the word being typed (without its opening quote)
    start: int  # the replaced range
    end: int
    quote: str | None = None  # the opening quote of an unterminated text or name
    space: bool = False  # insert a space first (the cursor touches a complete token)


@dataclass
class _Position:
    cursor: _Cursor
    parser: object
    accepted: set[str]
    open_words: list[str]  # terminals shifted but not reduced (event, where, visited ...)


# --- the public functions ----------------------------------------------------------------

def complete(text: str, offset: int, context: CompletionContext | None = None, *,
             limit: int | None = None) -> list[Suggestion]:
    """The suggestions for the cursor at `offset` (a character index into `text`), best
    first; at most `limit` of them when given. Never raises."""
    try:
        context = context or CompletionContext()
        position = _position(text, offset)
        if position is None:
            return []
        found = _suggest(position, context)
        return found if limit is None else found[:max(0, limit)]
    except Exception:  # a completion must never break the editor that asks for it
        return []


def value_request(text: str, offset: int, schema: FieldSchema) -> tuple[str, str] | None:
    """(field, typed) when the cursor stands where the value of the text field `field` goes,
    with `typed` the part of it already typed: the store loads that field's frequent values
    (starting with `typed`) before calling complete()."""
    try:
        position = _position(text, offset)
        if position is None or "STRING" not in position.accepted:
            return None
        name = _value_field(position)
        definition = schema.get(name) if name is not None else None
        if definition is None or definition.type is not FieldType.TEXT:
            return None
        return name, position.cursor.partial if position.cursor.quote else ""
    except Exception:
        return None


# --- where the cursor is -------------------------------------------------------------------

def _position(text: str, offset: int) -> _Position | None:
    if not isinstance(text, str) or len(text) > MAX_EXPRESSION_LENGTH:
        return None
    offset = min(max(0, int(offset)), len(text))
    cursor = _cursor(text, offset)
    if cursor is None:
        return None
    run = recovery.feed(text, cursor.tokens, recovery.bare_parser(), report=False)
    if run.gave_up:
        return None
    if run.last_error_index is not None and run.last_error_index >= len(cursor.tokens) - 1:
        return None  # the token just before the cursor does not fit: nothing sensible follows
    return _Position(cursor, run.parser, recovery.accepted(run.parser),
                     [token.type for token in recovery.stack_tokens(run.parser)])


def _cursor(text: str, offset: int) -> _Cursor | None:
    lexed = recovery.lex(text[:offset])
    tokens = lexed.tokens
    if lexed.unclosed is not None:
        start, quote = lexed.unclosed
        before = tokens[:-1]  # the made-up token of the open text
        word = before[-1] if before else None
        if (quote == "'" and word is not None and word.end_pos == start
                and word.type not in _COMPLETE):  # doesn' (a half-typed doesn't)
            end = _WORD_AFTER.match(text, offset).end()
            return _Cursor(before[:-1], text[word.start_pos:offset], word.start_pos, end)
        return _Cursor(before, text[start + 1:offset], start, _closing(text, start, offset),
                       quote=quote)
    last = tokens[-1] if tokens else None
    tail = max(0, offset - 4)
    symbols = _SYMBOL_BEFORE.search(text, tail, offset)
    if symbols is not None and (last is None or last.end_pos <= symbols.start()):
        # a symbol no token starts with yet (`!`): an operator being typed
        end = _SYMBOL_AFTER.match(text, offset).end()
        return _Cursor(tokens, symbols.group(), symbols.start(), end)
    if last is not None and last.end_pos == offset:
        if last.type in _COMPLETE:
            if last.type in ("NUMBER", "DAY", "TIMESTAMP") and offset < len(text) \
                    and (text[offset].isalnum() or text[offset] in "_.:-+"):
                return None  # inside a number or date: nothing to insert there
            return _Cursor(tokens, "", offset, offset, space=True)
        if last.type in _OPENERS:
            return _Cursor(tokens, "", offset, offset)
        pattern = _SYMBOL_AFTER if last.type in _SYMBOLS else _WORD_AFTER
        end = pattern.match(text, offset).end()
        return _Cursor(tokens[:-1], text[last.start_pos:offset], last.start_pos, end)
    space = offset > 0 and not text[offset - 1].isspace() and text[offset - 1] not in "(,"
    return _Cursor(tokens, "", offset, offset, space=space)


def _closing(text: str, start: int, offset: int) -> int:
    """The end of the quoted text opened at `start`: after its closing quote on the same
    line, or the cursor when it has none."""
    quote = text[start]
    index = start + 1
    while index < len(text) and text[index] != "\n":
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1 if index >= offset else offset
        index += 1
    return offset


# --- what fits there ---------------------------------------------------------------------------

def _suggest(position: _Position, context: CompletionContext) -> list[Suggestion]:
    cursor = position.cursor
    accepted = position.accepted
    tokens = cursor.tokens
    last = tokens[-1].type if tokens else None
    candidates: list[_Candidate] = []
    operator_field = _operator_field(tokens)
    if last == "_EVENT" and "NAME" in accepted:
        candidates += _event_types(context)
    elif (last == "_OF" and len(tokens) > 2 and tokens[-2].type in _TOTALS
          and "NAME" in accepted):  # `event T sum of `: T's attributes
        event_type = _name_of(tokens[-3])
        names = (context.attributes or {}).get(event_type, ())
        candidates += [_Candidate(format_name(name), SuggestionKind.FIELD,
                                  f"attribute of {event_type}", format_name(name), (name,))
                       for name in sorted(set(names), key=str.casefold)]
    elif last == "_RECEIVE" and "NAME" in accepted:
        candidates += [_Candidate(channel.value, SuggestionKind.KEYWORD, "a channel",
                                  channel.value, (channel.value,)) for channel in ast.Channel]
    elif last == "_VISITED" and "NAME" in accepted:
        candidates.append(_Candidate("url", SuggestionKind.FIELD, "the page address (text)",
                                     "url", ("url",)))
    elif last in ("_LIST", "_SEGMENT") and "STRING" in accepted:
        names = context.lists if last == "_LIST" else context.segments
        kind = SuggestionKind.LIST if last == "_LIST" else SuggestionKind.SEGMENT
        candidates += [_Candidate(_quoted(name), kind, kind.value, _quoted(name), (name,))
                       for name in sorted(set(names), key=str.casefold)]
    else:
        if "NAME" in accepted:
            candidates += _condition_start(position, context)
        if operator_field is not None:
            candidates += _operators(position, context, operator_field)
        value_type = _value_type(position, context)
        if accepted & _VALUES:
            candidates += _values(position, context, value_type)
        if accepted & set(_UNIT_TERMINALS.values()) and value_type in (None, FieldType.DATE):
            candidates += _units(tokens)
        # After `Signup after 3`, only a unit fits the date field (`3 days ago`).
        waiting_for_unit = (value_type is FieldType.DATE and last == "NUMBER")
        if operator_field is None and not waiting_for_unit:
            candidates += _follow(position)
    return _finish(_filter(candidates, cursor), cursor)


def _finish(candidates: list[_Candidate], cursor: _Cursor) -> list[Suggestion]:
    seen = set()
    found = []
    for candidate in candidates:
        key = (candidate.label, candidate.kind)
        if key in seen:
            continue
        seen.add(key)
        insert = (" " if cursor.space else "") + candidate.insert_text
        found.append(Suggestion(candidate.label, candidate.kind, candidate.detail, insert,
                                cursor.start, cursor.end))
    return found


def _filter(candidates: list[_Candidate], cursor: _Cursor) -> list[_Candidate]:
    if not cursor.partial:
        return candidates
    typed = cursor.partial.casefold()
    starting, containing = [], []
    for candidate in candidates:
        if any(key.startswith(typed) for key in candidate.folded):
            starting.append(candidate)
        elif any(typed in key for key in candidate.folded):
            containing.append(candidate)
    return starting + containing


def _quoted(text: str) -> str:
    return format_expression(ast.String(text))


def _name_of(token: Token) -> str:
    if token.type == "QUOTED_NAME":
        from dsl.parser import unescape

        try:
            return unescape(token)
        except Exception:
            return token[1:-1]
    return str(token)


def _fits(position: _Position, terminals: Sequence[str]) -> bool:
    return recovery.goes_through(position.parser, [recovery.synthetic(t) for t in terminals])


def _tail_match(tokens: list[Token], phrase: _Phrase, accepted: set[str],
                *, fresh: bool) -> int | None:
    """How many words of `phrase` the text already ends with (the rest fits next), or None.
    `fresh`: whether the phrase may start anew here (no words typed yet)."""
    for typed in range(len(phrase.terminals) - 1, -1, -1):
        if typed == 0 and not fresh:
            return None
        if typed > len(tokens):
            continue
        ending = tuple(token.type for token in tokens[len(tokens) - typed:]) if typed else ()
        if ending == phrase.terminals[:typed] and phrase.terminals[typed] in accepted:
            return typed
    return None


# --- fields and condition keywords ------------------------------------------------------------

def _condition_start(position: _Position, context: CompletionContext) -> list[_Candidate]:
    found: list[_Candidate] = []
    tokens = position.cursor.tokens
    in_where = "_WHERE" in position.open_words
    if in_where:
        event_type = _open_event_type(tokens)
        names = (context.attributes or {}).get(event_type, ()) if event_type else ()
        found += [_Candidate(format_name(name), SuggestionKind.FIELD,
                             f"attribute of {event_type}", format_name(name), (name,))
                  for name in sorted(set(names), key=str.casefold)]
    else:
        found += _schema_fields(context.schema)
    for text, detail in _CONDITION_KEYWORDS:
        if in_where and text != "not":
            continue
        found += _keyword(position, text, detail, fresh=True)
    return found


_FIELDS_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _schema_fields(schema: FieldSchema) -> list[_Candidate]:
    """The field suggestions of a schema, made once per schema (schemas are immutable)."""
    found = _FIELDS_OF.get(schema)
    if found is None:
        found = []
        for definition in sorted(schema, key=lambda f: f.name.casefold()):
            shown = format_name(definition.name)
            found.append(_Candidate(shown, SuggestionKind.FIELD, definition.type.value, shown,
                                    (definition.name,)))
        _FIELDS_OF[schema] = found
    return found


def _open_event_type(tokens: list[Token]) -> str | None:
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index].type == "_EVENT" and index + 1 < len(tokens):
            following = tokens[index + 1]
            return _name_of(following) if following.type in _NAMES else None
        if tokens[index].type == "_VISITED":
            return "PageVisit"
    return None


def _event_types(context: CompletionContext) -> list[_Candidate]:
    names = sorted(set(context.event_types) | SYSTEM_EVENT_TYPES, key=str.casefold)
    return [_Candidate(format_name(name), SuggestionKind.EVENT,
                       "system event" if name in SYSTEM_EVENT_TYPES else "event",
                       format_name(name), (name,)) for name in names]


def _keyword(position: _Position, text: str, detail: str, *, fresh: bool) -> list[_Candidate]:
    phrase = _phrase(text)
    typed = _tail_match(position.cursor.tokens, phrase, position.accepted, fresh=fresh)
    if typed is None or not _fits(position, phrase.terminals[typed:]):
        return []
    rest = " ".join(phrase.words[typed:])
    return [_Candidate(rest, SuggestionKind.KEYWORD, detail, rest, (rest,))]


# --- operators ----------------------------------------------------------------------------------

def _operator_field(tokens: list[Token]) -> int | None:
    """The index of the field token an operator is being written after, if any."""
    index = len(tokens) - 1
    while index >= 0 and tokens[index].type in _OPERATOR_WORDS:
        index -= 1
    if index >= 0 and tokens[index].type in _NAMES:
        before = tokens[index - 1].type if index > 0 else None
        if before not in ("_EVENT", "_RECEIVE"):  # an event type or a channel, not a field
            return index
    if index > 0 and tokens[index].type == "_OCCURRED" and tokens[index - 1].type in _EDGES:
        return index  # `first occurred` / `last occurred` take a date operator
    return None


_EDGES = ("FIRST", "_LAST")
_TOTALS = ("SUM", "AVERAGE", "MINIMUM", "MAXIMUM")


def _field_kind(position: _Position, context: CompletionContext,
                index: int) -> tuple[str, FieldType | None]:
    """(what the name is, its type): a contact field, the url of visited, or an attribute."""
    tokens = position.cursor.tokens
    if tokens[index].type == "_OCCURRED":
        return "time", FieldType.DATE
    if index > 1 and tokens[index - 1].type == "_OF" and tokens[index - 2].type in _TOTALS:
        return "total", FieldType.NUMBER
    if index > 0 and tokens[index - 1].type == "_VISITED":
        return "url", FieldType.TEXT
    if "_WHERE" in position.open_words:
        return "attribute", None
    definition = context.schema.get(_name_of(tokens[index]))
    return ("field", definition.type) if definition is not None else ("unknown", None)


def _operators(position: _Position, context: CompletionContext,
               index: int) -> list[_Candidate]:
    tokens = position.cursor.tokens
    typed_words = tokens[index + 1:]
    what, field_type = _field_kind(position, context, index)
    if field_type is not None:
        operators = list(OPERATORS[field_type])
        detail = f"{field_type.value} operator"
    else:
        operators = list(_OPERATOR_PHRASES)
        detail = "attribute operator" if what == "attribute" else "operator"
    typed = position.cursor.partial.casefold()
    found = []
    for operator in operators:
        spellings = (_NUMBER_FIRST.get(operator) if field_type is FieldType.NUMBER else None) \
            or _OPERATOR_PHRASES[operator]
        viable = []
        for text in spellings:
            phrase = _phrase(text)
            words = len(typed_words)
            if words >= len(phrase.terminals):
                continue
            if tuple(token.type for token in typed_words) != phrase.terminals[:words]:
                continue
            if phrase.terminals[words] not in position.accepted:
                continue
            if not _fits(position, phrase.terminals[words:]):
                continue
            viable.append(" ".join(phrase.words[words:]))
        if not viable:
            continue
        if field_type is None:
            # an attribute takes the type of its value: `price = 5`, `plan equals "pro"`
            found += [_Candidate(v, SuggestionKind.OPERATOR, detail, v, (v,)) for v in viable]
            continue
        chosen = viable[0]
        if typed:
            chosen = (next((v for v in viable if v.casefold().startswith(typed)), None)
                      or next((v for v in viable if typed in v.casefold()), None) or chosen)
        found.append(_Candidate(chosen, SuggestionKind.OPERATOR, detail, chosen, (chosen,)))
    return found


# --- values and units ------------------------------------------------------------------------

def _value_field(position: _Position) -> str | None:
    tokens = position.cursor.tokens
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index].type in _NAMES:
            if "_WHERE" in position.open_words or (
                    index > 0 and tokens[index - 1].type in ("_VISITED", "_EVENT")):
                return None  # an attribute, or an event type
            return _name_of(tokens[index])
        if tokens[index].type in ("_AND", "_OR", "LPAR", "_EVENT", "_WHERE"):
            if _in_values_list(tokens, index) or _between_and(tokens, index):
                continue
            return None
    return None


_LITERAL_PARTS = frozenset({"NUMBER", "DAY", "TIMESTAMP", "STRING", "_TODAY", "_AGO",
                            *_UNIT_TERMINALS.values()})


def _between_and(tokens: list[Token], index: int) -> bool:
    # the `and` of `between X and Y`: a between, then one value (up to `3 days ago`)
    if tokens[index].type != "_AND":
        return False
    start = index - 1
    while start >= 0 and index - start <= 3 and tokens[start].type in _LITERAL_PARTS:
        start -= 1
    return start >= 0 and start < index - 1 and tokens[start].type == "_BETWEEN"


def _in_values_list(tokens: list[Token], index: int) -> bool:
    # `City in (` / `City not in (`: the field is further back
    return tokens[index].type == "LPAR" and index > 0 and tokens[index - 1].type == "_IN"


_COMPARISON_SIGNS = frozenset({"GT_SIGN", "GTE_SIGN", "LT_SIGN", "LTE_SIGN", "EQ_SIGN",
                               "NE_SIGN"})


def _value_type(position: _Position, context: CompletionContext) -> FieldType | None:
    """The type the value at the cursor must have, when it is known: the type of the
    contact field it is compared with, or a number after `>`, `>=`, `<`, `<=`."""
    tokens = position.cursor.tokens
    for index in range(len(tokens) - 1, -1, -1):
        token = tokens[index]
        if token.type in ("GT_SIGN", "GTE_SIGN", "LT_SIGN", "LTE_SIGN"):
            return FieldType.NUMBER
        if token.type == "_BETWEEN" and index >= 2 and tokens[index - 1].type == "NUMBER" \
                and tokens[index - 2].type in _COMPARISON_SIGNS:
            return FieldType.DATE  # `sum of price > 0 between ...`: a window, of dates
        if token.type not in ("NUMBER", "_BETWEEN", "_AND"):
            break
    name = _value_field(position)
    definition = context.schema.get(name) if name is not None else None
    return definition.type if definition is not None else None


def _values(position: _Position, context: CompletionContext,
            value_type: FieldType | None) -> list[_Candidate]:
    found: list[_Candidate] = []
    accepted = position.accepted
    if "STRING" in accepted and context.values is not None and value_type is FieldType.TEXT:
        name = _value_field(position)
        if name is not None:
            try:
                source = context.values
                values = source(name) if callable(source) else source.get(name, ())
                values = [value for value in values if isinstance(value, str)]
            except Exception:
                values = []
            found += [_Candidate(_quoted(value), SuggestionKind.VALUE, f"a value of {name}",
                                 _quoted(value), (value,)) for value in values]
    if "_TODAY" in accepted and value_type in (None, FieldType.DATE):
        found.append(_Candidate("today", SuggestionKind.VALUE, "the current day (UTC)",
                                "today", ("today",)))
    return found


def _units(tokens: list[Token]) -> list[_Candidate]:
    if not tokens or tokens[-1].type != "NUMBER":
        return []
    amount = tokens[-1].value
    ago = not (len(tokens) > 1 and tokens[-2].type == "_LAST")
    found = []
    for plural in _UNITS.values():
        unit = _SINGULAR[plural] if amount in ("1", "-1") else plural
        text = f"{unit} ago" if ago else unit
        detail = f"{amount} {unit} before now" if ago else f"the last {amount} {unit}"
        found.append(_Candidate(text, SuggestionKind.UNIT, detail, text, (text,)))
    return found


def _follow(position: _Position) -> list[_Candidate]:
    """Keywords that continue the text: and, or, occurred, at least, in last, where ..."""
    found = []
    accepted = position.accepted
    tokens = position.cursor.tokens
    for text, detail in _FOLLOW_KEYWORDS:
        found += _keyword(position, text, detail, fresh=True)
    if accepted & {"_TIMES", "_TIME"} and tokens and tokens[-1].type == "NUMBER":
        word = "time" if tokens[-1].value == "1" else "times"
        found.append(_Candidate(word, SuggestionKind.KEYWORD, "the count's end", word, (word,)))
    for text, detail in _CONDITION_KEYWORDS:  # `in` → list / segment, `all` → of (
        if "NAME" not in accepted:
            found += _keyword(position, text, detail, fresh=False)
    return found
