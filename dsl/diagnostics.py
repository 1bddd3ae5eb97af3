"""Diagnostics: every problem of an expression at once, with ranges an editor can underline.

`diagnose(text, schema)` returns

- **every syntax error** (not only the first, as parse() does): the LALR parser recovers
  after each one (dsl/recovery.py) and goes on, up to `max_errors`;
- **every type error** of the type checker (dsl/typecheck.py): of the whole expression,
  or, when it does not parse, of each complete condition built beside the syntax errors;
- **warnings** for parts that can never match, or always match (see `lint`).

The warning rules are few and sound: each one is a proof that holds for every contact,
every event and every evaluation time `now` under the reference evaluator's semantics
(dsl/evaluator.py), and tests/dsl/test_diagnostics.py checks each against the evaluator on
generated contacts. Inside an `and` (nested `and` groups are looked through):

1. **a condition and its exact negation**: `A and not A`. Negative operators are exactly
   `not` of their positive (`!=`, `is not equal to`, `doesn't contain`, `not in`,
   `has no value`, `not in list`), `did not occur` is `not (occurred)`, `at most N times`
   is `not (at least N+1 times)` and `exactly 0 times` is `did not occur`; text is compared
   case-folded, as the operators compare it;
2. **values of different kinds**: two positive conditions on one field that need a number,
   a text, a date or a boolean each (`Age > 3 and Age before 2024-01-01`);
3. **empty ranges**: number or date bounds that leave no value (`Age > 50 and Age < 20`,
   `Age between 5 and 10 and Age < 3`, `Signup after 2024-05-01 and Signup before
   2024-04-01`); dates only when absolute (`today` and `N days ago` move with `now`);
4. **a finite set of values none of which fits**: `equals`, `in (...)`, `is true/false`
   (and a range closed on one number) allow a few values; when every one of them fails
   another condition on the field, nothing matches (`Age = 3 and Age = 4`,
   `City equals "a" and City starts with "b"`, `X is true and X is false`). Each value is
   tested with the evaluator's own `value_matches`.

Inside an `or`: **a condition or its exact negation** (`A or not A`) always holds. In both:
**a repeated condition** (`A and A`) is reported as redundant.

Deliberately not warned, because they are not certain: `Age > 5 or Age <= 5` and
`X is true or X is false` (a contact without a value matches neither), anything with
`today`, `N days ago` or `in last` in a range, and conditions split across `or` branches.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace

from lark.exceptions import UnexpectedInput

from dsl import ast, recovery, temporal
from dsl.errors import SegmentError, SegmentLimitError, SegmentSyntaxError
from dsl.evaluator import value_matches
from dsl.formatter import format_expression
from dsl.parser import (MAX_EXPRESSION_LENGTH, check_depth, lark_parser, parse,
                        surrogate_error)
from dsl.schema import FieldSchema
from dsl.typecheck import check, literal_type, literals_of
from dsl.values import fold

MAX_ERRORS = 20
# The first warnings in source order; thousands of repeated conditions would give thousands
# of warnings, nobody reads them all, and each one's range costs work in the text's length.
MAX_WARNINGS = 50
# A field compared more often than this within one `and` is not searched for
# contradictions (the search is quadratic in it).
_MAX_GROUP = 200


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem. Lines and columns count from 1; `end_column` is just after the range
    (on `end_line`); `start`/`end` are the same range as 0-based character offsets.

    `code`: syntax, limit, type, never (a part that matches nothing), always (a part that
    matches everything), duplicate."""

    severity: Severity
    message: str
    suggestion: str | None
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int
    code: str

    def __str__(self) -> str:
        text = f"{self.severity.value}: line {self.line}, column {self.column}: {self.message}"
        return text + (f" ({self.suggestion})" if self.suggestion else "")


def diagnose(text: str, schema: FieldSchema, *, event_types: Collection[str] | None = None,
             lists: Collection[str] | None = None,
             max_errors: int = MAX_ERRORS) -> list[Diagnostic]:
    """Every problem of `text` against `schema`, in source order: syntax errors (all of
    them, up to `max_errors`) and type errors, and warnings when it parses. `event_types`
    and `lists` are the known names (None: not checked), as for typecheck.check."""
    if not isinstance(text, str):
        return [_whole("", SegmentSyntaxError("an expression must be text"), "syntax")]
    lines = _LineIndex(text)
    no_character = surrogate_error(text)
    if no_character is not None:
        return [_from_error(lines, no_character, "syntax")]
    try:
        expr = _parse(text)
    except SegmentLimitError as error:
        if len(text) > MAX_EXPRESSION_LENGTH or error.line is None:
            return [_whole(text, error, "limit")]
        return [_from_error(lines, error, "limit")]
    if expr is None:
        recovered = recovery.recover(text, max_errors=max_errors)
        found = _syntax(recovered, lines, max_errors)
        if not found:  # never expected: the recovery reads what parse() reads
            try:
                parse(text)
            except SegmentError as error:
                found = [_from_error(lines, error, "syntax")]
        # The type errors of what could be built beside the syntax errors, so that one
        # mistake does not hide another (`Citty equals "x" and Age >> 5`).
        found += [_from_error(lines, error, "type") for part in recovered.parts
                  for error in check(part, schema, source=text, event_types=event_types,
                                     lists=lists)]
        return sorted(found, key=lambda d: (d.start, d.end))
    problems = [_from_error(lines, error, "type")
                for error in check(expr, schema, source=text, event_types=event_types,
                                   lists=lists)]
    warnings = []
    for finding in lint(expr):  # in source order; each warning's work grows with the text,
        if len(warnings) >= MAX_WARNINGS:  # so a bounded number keeps diagnose linear
            break
        warning = _from_finding(finding)
        if warning is not None and not any(_overlaps(warning, p) for p in problems):
            warnings.append(warning)
    if any(_unbalanced(text[w.start:w.end]) for w in warnings):
        tokens = recovery.lex(text).tokens
        starts = [token.start_pos for token in tokens]
        warnings = [_balanced(warning, tokens, starts, lines) for warning in warnings]
    return sorted(problems + warnings, key=lambda d: (d.start, d.end, d.severity.value))


def _parse(text: str) -> ast.Expression | None:
    """parse(text); None instead of a syntax error, whose message the recovery makes
    anyway (parse() would build it first, for nothing)."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        parse(text)  # the limit error
    try:
        tree = lark_parser().parse(text)
    except (UnexpectedInput, SegmentError):
        return None
    check_depth(tree, text)
    return tree


def syntax_diagnostics(text: str, *, max_errors: int = MAX_ERRORS,
                       lines: _LineIndex | None = None) -> list[Diagnostic]:
    """Every syntax error of `text` (up to `max_errors`), in source order; [] if it parses."""
    return _syntax(recovery.recover(text, max_errors=max_errors), lines or _LineIndex(text),
                   max_errors)


def _syntax(recovered: recovery.Recovered, lines: _LineIndex,
            max_errors: int) -> list[Diagnostic]:
    found: dict[tuple, Diagnostic] = {}
    for error in recovered.errors:
        diagnostic = _from_error(lines, error, "syntax")
        found.setdefault((diagnostic.start, diagnostic.message), diagnostic)
    return sorted(found.values(), key=lambda d: (d.start, d.end))[:max(1, max_errors)]


# --- ranges --------------------------------------------------------------------------------------

class _LineIndex:
    """Line and column ↔ offset, counting lines at "\\n" only (as the parser does)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        index = text.find("\n")
        while index >= 0:
            self.starts.append(index + 1)
            index = text.find("\n", index + 1)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        line = min(max(1, line), len(self.starts))
        return min(self.starts[line - 1] + max(1, column) - 1, len(self.text))


def _from_error(lines: _LineIndex, error: SegmentError, code: str) -> Diagnostic:
    if error.line is None or error.column is None:
        return _whole(lines.text, error, code)
    start = lines.offset(error.line, error.column)
    end_line = error.end_line or error.line
    end = max(start, lines.offset(end_line, error.end_column or error.column))
    end_column = error.end_column or error.column
    if end == start and start < len(lines.text) and lines.text[start] != "\n":
        end, end_column = start + 1, error.column + 1  # one character, not nothing
    severity = Severity.ERROR
    return Diagnostic(severity, error.message, error.suggestion, error.line, error.column,
                      end_line, end_column, start, end, code)


def _unbalanced(fragment: str) -> bool:
    """Might the brackets of `fragment` not match? (Quotes: maybe; brackets in text.)"""
    if any(quote in fragment for quote in "\"'`"):
        return True
    depth = 0
    for char in fragment:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return True
    return depth != 0


def _balanced(warning: Diagnostic, tokens, starts: list[int], lines: _LineIndex) -> Diagnostic:
    """The warning's range widened to whole parentheses: a node's span leaves out the
    brackets around it (`not (A)` ends before `)`), and conditions from nested groups
    would cut a group in two."""
    start, end = warning.start, warning.end
    first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
    inside = tokens[first:last]
    before = tokens[:first]
    after = tokens[last:]
    depth = 0
    unopened = 0  # `)` in the range whose `(` lies before it
    for token in inside:
        if token.type == "LPAR":
            depth += 1
        elif token.type == "RPAR":
            if depth:
                depth -= 1
            else:
                unopened += 1
    nested = 0
    for token in reversed(before):
        if not unopened:
            break
        if token.type == "RPAR":
            nested += 1
        elif token.type == "LPAR":
            if nested:
                nested -= 1
            else:
                unopened -= 1
                start = token.start_pos
    nested = 0
    for token in after:
        if not depth:
            break
        if token.type == "LPAR":
            nested += 1
        elif token.type == "RPAR":
            if nested:
                nested -= 1
            else:
                depth -= 1
                end = token.end_pos
    if (start, end) == (warning.start, warning.end):
        return warning
    line, column = lines.position(start)
    end_line, end_column = lines.position(end)
    return replace(warning, line=line, column=column, end_line=end_line, end_column=end_column,
                   start=start, end=end)


def _whole(text: str, error: SegmentError, code: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, error.message, error.suggestion, 1, 1, 1, 1, 0, 0, code)


def _overlaps(warning: Diagnostic, problem: Diagnostic) -> bool:
    return problem.start < warning.end and warning.start < problem.end


# --- warnings -------------------------------------------------------------------------------------

class Rule(str, enum.Enum):
    NEVER = "never"
    ALWAYS = "always"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Finding:
    """What `lint` proved about a part of an expression.

    NEVER: `conditions`, taken together with `and`, match no contact (no event, when
    `attribute`), so neither does the `and` that holds them (`node`). ALWAYS: `conditions`
    joined with `or` match every contact (every event), and so does `node`. DUPLICATE:
    `conditions` are one condition and its repetition; `node` means the same without it."""

    rule: Rule
    node: ast.And | ast.Or
    conditions: tuple[ast.Expression, ...]
    attribute: bool  # inside an event's `where`: about events, not contacts
    reason: str


def lint(expr: ast.Expression) -> list[Finding]:
    """The warnings' findings in `expr`, in source order (see the module docstring)."""
    findings: list[tuple[Finding, tuple[int, ...]]] = []
    stack: list[tuple[ast.Expression, type | None, bool]] = [(expr, None, False)]
    while stack:
        node, parent, attribute = stack.pop()
        if isinstance(node, (ast.And, ast.Or)) and parent is not type(node):
            operands = _flatten(node)
            findings += _pairs(node, operands, attribute)
            if isinstance(node, ast.And):
                findings += _fields(node, operands, attribute)
        for child in reversed(ast.children(node)):
            stack.append((child, type(node),
                          attribute or isinstance(node, (ast.EventCondition, ast.EventTotal))))
    # One finding per rule and set of operands (two rules can prove the same thing).
    unique: dict[tuple, Finding] = {}
    for finding, positions in findings:
        unique.setdefault((finding.rule, id(finding.node), frozenset(positions)), finding)
    return sorted(unique.values(), key=_finding_start)


def _finding_start(finding: Finding) -> tuple[int, int]:
    spans = [c.span for c in finding.conditions if c.span is not None]
    return (min(s.start for s in spans), max(s.end for s in spans)) if spans else (0, 0)


def _flatten(node: ast.And | ast.Or) -> list[ast.Expression]:
    """The operands of `node` in source order, with nested groups of its kind opened up."""
    result = []
    stack: list[ast.Expression] = [node]
    while stack:
        current = stack.pop()
        if type(current) is type(node):
            stack.extend(reversed(current.operands))
        else:
            result.append(current)
    return result


# --- rule 1 (and `or`, duplicates): a condition and its exact negation --------------------------

def _pairs(node: ast.And | ast.Or, operands: list[ast.Expression],
           attribute: bool) -> list[tuple[Finding, tuple[int, ...]]]:
    """Each operand against the first earlier one with the same core."""
    findings = []
    seen: dict[ast.Expression, tuple[int, bool]] = {}
    for index, operand in enumerate(operands):
        core, negated = signed(operand)
        if core not in seen:
            seen[core] = (index, negated)
            continue
        first, first_negated = seen[core]
        if first_negated == negated:
            rule, reason = Rule.DUPLICATE, "a repeated condition"
        else:
            rule = Rule.NEVER if isinstance(node, ast.And) else Rule.ALWAYS
            reason = "a condition and its negation"
        findings.append((Finding(rule, node, (operands[first], operand), attribute, reason),
                         (first, index)))
    return findings


_POSITIVE = {ast.CompareOp.NOT_EQUALS: ast.CompareOp.EQUALS,
             ast.CompareOp.NOT_CONTAINS: ast.CompareOp.CONTAINS}


def signed(node: ast.Expression) -> tuple[ast.Expression, bool]:
    """(core, negated) with `node` ≡ core, or ≡ not core when negated: negative operators
    and `not` peeled off, event counts as `at least N`, text case-folded."""
    negated = False
    while isinstance(node, ast.Not):
        node, negated = node.operand, not negated
    if isinstance(node, ast.Compare) and node.op in _POSITIVE:
        node, negated = replace(node, op=_POSITIVE[node.op]), not negated
    elif isinstance(node, ast.InValues) and node.negated:
        node, negated = replace(node, negated=False), not negated
    elif isinstance(node, ast.HasValue) and not node.present:
        node, negated = replace(node, present=True), not negated
    elif isinstance(node, ast.CanReceive) and node.negated:
        node, negated = replace(node, negated=False), not negated
    elif isinstance(node, ast.EventCondition):
        count = node.count
        if not node.occurred:  # times == 0
            count, negated = ast.Count(ast.CountOp.AT_LEAST, 1), not negated
        elif count is None:  # times >= 1
            count = ast.Count(ast.CountOp.AT_LEAST, 1)
        elif count.op is ast.CountOp.AT_MOST:  # times <= N  ≡  not times >= N + 1
            count, negated = ast.Count(ast.CountOp.AT_LEAST, count.times + 1), not negated
        elif count.op is ast.CountOp.EXACTLY and count.times == 0:
            count, negated = ast.Count(ast.CountOp.AT_LEAST, 1), not negated
        else:
            count = ast.Count(count.op, count.times)
        node = replace(node, occurred=True, count=count)
    return _folded(node), negated


def _folded(node: ast.Expression) -> ast.Expression:
    """`node` with its text literals case-folded: the operators compare them folded."""
    if isinstance(node, (ast.And, ast.Or)):
        return replace(node, operands=tuple(_folded(o) for o in node.operands))
    if isinstance(node, ast.Not):
        return replace(node, operand=_folded(node.operand))
    if isinstance(node, (ast.EventCondition, ast.EventTotal)):
        return replace(node, where=_folded(node.where)) if node.where is not None else node
    if isinstance(node, ast.Compare):
        return replace(node, value=_fold_literal(node.value))
    if isinstance(node, ast.InValues):
        return replace(node, values=tuple(_fold_literal(v) for v in node.values))
    if isinstance(node, ast.Between):
        return replace(node, low=_fold_literal(node.low), high=_fold_literal(node.high))
    return node


def _fold_literal(literal: ast.Literal) -> ast.Literal:
    return ast.String(fold(literal.value)) if isinstance(literal, ast.String) else literal


# --- rules 2-4: one field's conditions inside an `and` ------------------------------------------

# Any evaluation time: the conditions these rules evaluate never read it (no relative dates).
_ANY_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_NUMBER, _DATE, _BOOLEAN = "number", "date", "boolean"  # FieldType values


@dataclass(frozen=True, eq=False)
class _Literal:
    """A field condition as an operand: `node`, or `not node` when negated."""

    operand: ast.Expression
    node: ast.FieldCondition
    negated: bool
    index: int  # among the operands of the `and`

    def holds(self, value: object) -> bool:
        return value_matches(self.node, value, _ANY_NOW) != self.negated

    @property
    def positive(self) -> bool:
        """True when it can only hold for a value (a positive operator, not negated)."""
        if self.negated:
            return False
        node = self.node
        if isinstance(node, ast.Compare):
            return node.op not in ast.NEGATIVE_OPS
        if isinstance(node, ast.InValues):
            return not node.negated
        if isinstance(node, ast.HasValue):
            return node.present
        return True


def _fields(node: ast.And, operands: list[ast.Expression],
            attribute: bool) -> list[tuple[Finding, tuple[int, ...]]]:
    groups: dict[str, list[_Literal]] = defaultdict(list)
    for index, operand in enumerate(operands):
        inner, negated = operand, False
        while isinstance(inner, ast.Not):
            inner, negated = inner.operand, not negated
        if isinstance(inner, ast.FIELD_CONDITIONS):
            groups[inner.field].append(_Literal(operand, inner, negated, index))
    findings = []
    for literals in groups.values():
        if len(literals) < 2 or len(literals) > _MAX_GROUP:
            continue
        proof = _kinds(literals) or _ranges(literals) or _finite(literals)
        if proof is not None:
            reason, involved = proof
            involved = sorted(involved, key=lambda literal: literal.index)
            findings.append((Finding(Rule.NEVER, node, tuple(l.operand for l in involved),
                                     attribute, reason), tuple(l.index for l in involved)))
    return findings


def _relative(node: ast.FieldCondition) -> bool:
    """Does the condition's meaning move with `now` (today, N days ago, in last)?"""
    if isinstance(node, ast.InLast):
        return True
    return any(isinstance(literal, (ast.Today, ast.Ago)) for literal in literals_of(node))


def _literal_kind(literal: ast.Literal) -> str:
    return literal_type(literal).value


def _kind(literal: _Literal) -> str | None:
    """The one kind of value a positive condition can hold for, if it has one."""
    if not literal.positive:
        return None
    node = literal.node
    if isinstance(node, ast.IsBool):
        return _BOOLEAN
    if isinstance(node, ast.InLast):
        return _DATE
    if isinstance(node, ast.Compare):
        return _literal_kind(node.value)
    if isinstance(node, ast.Between):
        kinds = {_literal_kind(node.low), _literal_kind(node.high)}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(node, ast.InValues):
        kinds = {_literal_kind(value) for value in node.values}
        return kinds.pop() if len(kinds) == 1 else None
    return None  # has value: any kind


def _kinds(literals: list[_Literal]):
    first: dict[str, _Literal] = {}
    for literal in literals:
        kind = _kind(literal)
        if kind is None:
            continue
        other = next((l for k, l in first.items() if k != kind), None)
        if other is not None:
            return "a field holds one kind of value", [other, literal]
        first.setdefault(kind, literal)
    return None


@dataclass(frozen=True)
class _Bound:
    value: object
    inclusive: bool
    literal: _Literal


def _interval(literal: _Literal):
    """(kind, lower, upper) that a positive, absolute number or date condition's value
    lies within (a None bound is open), or None."""
    if not literal.positive or _relative(literal.node):
        return None
    node = literal.node
    if isinstance(node, ast.Compare) and isinstance(node.value, ast.Number):
        value = node.value.value
        op = node.op
        if op is ast.CompareOp.EQUALS:
            return _NUMBER, (value, True), (value, True)
        if op in (ast.CompareOp.GT, ast.CompareOp.GTE):
            return _NUMBER, (value, op is ast.CompareOp.GTE), None
        if op in (ast.CompareOp.LT, ast.CompareOp.LTE):
            return _NUMBER, None, (value, op is ast.CompareOp.LTE)
        return None
    if isinstance(node, ast.Between) and isinstance(node.low, ast.Number) \
            and isinstance(node.high, ast.Number):
        return _NUMBER, (node.low.value, True), (node.high.value, True)
    if isinstance(node, ast.InValues) and node.values \
            and all(isinstance(v, ast.Number) for v in node.values):
        numbers = [v.value for v in node.values]
        return _NUMBER, (min(numbers), True), (max(numbers), True)
    interval = None
    if isinstance(node, ast.Compare) and isinstance(node.value, ast.DATE_LITERALS) \
            and node.op in (ast.CompareOp.EQUALS, ast.CompareOp.BEFORE, ast.CompareOp.AFTER):
        interval = temporal.compare_interval(node.op, node.value, _ANY_NOW)
    elif isinstance(node, ast.Between) and isinstance(node.low, ast.DATE_LITERALS) \
            and isinstance(node.high, ast.DATE_LITERALS):
        interval = temporal.between_interval(node.low, node.high, _ANY_NOW)
    if interval is None:
        return None
    lower = None if interval.lower is None else (interval.lower, interval.lower_inclusive)
    upper = None if interval.upper is None else (interval.upper, interval.upper_inclusive)
    return _DATE, lower, upper


def _ranges(literals: list[_Literal]):
    for kind in (_NUMBER, _DATE):
        lower: _Bound | None = None
        upper: _Bound | None = None
        for literal in literals:
            found = _interval(literal)
            if found is None or found[0] != kind:
                continue
            _, low, high = found
            if low is not None and (lower is None or low[0] > lower.value or (
                    low[0] == lower.value and lower.inclusive and not low[1])):
                lower = _Bound(low[0], low[1], literal)
            if high is not None and (upper is None or high[0] < upper.value or (
                    high[0] == upper.value and upper.inclusive and not high[1])):
                upper = _Bound(high[0], high[1], literal)
        if lower is None or upper is None:
            continue
        involved = list(dict.fromkeys([lower.literal, upper.literal]))
        if lower.value > upper.value or (
                lower.value == upper.value and not (lower.inclusive and upper.inclusive)):
            return "no value lies in both ranges", involved
        if kind == _NUMBER and lower.value == upper.value:
            # one number is left: the finite rule tests it against the rest
            eliminated = _eliminate([lower.value], literals, involved)
            if eliminated is not None:
                return "the only value left fails another condition", involved + eliminated
    return None


def _representatives(literal: _Literal) -> list | None:
    """A value standing for each class of values the condition allows, when finitely many:
    every condition gives the same answer for all values of one class (text compares
    case-folded, and 3 is 3.0)."""
    if not literal.positive or _relative(literal.node):
        return None
    node = literal.node
    if isinstance(node, ast.IsBool):
        return [node.value]
    if isinstance(node, ast.Compare) and node.op is ast.CompareOp.EQUALS:
        values = (node.value,)
    elif isinstance(node, ast.InValues):
        values = node.values
    else:
        return None
    if not all(isinstance(v, (ast.String, ast.Number, ast.Timestamp)) for v in values):
        return None  # a day is a whole range of instants
    return [v.value for v in values]


def _eliminate(values: list, literals: list[_Literal], skip: list[_Literal]) -> list | None:
    """For each value, a condition (not in `skip`, absolute) it fails; None if one passes."""
    eliminators = []
    for value in values:
        if isinstance(value, float) and math.isnan(value):
            return None
        failing = next((l for l in literals if l not in skip and not _relative(l.node)
                        and not l.holds(value)), None)
        if failing is None:
            return None
        if failing not in eliminators:
            eliminators.append(failing)
    return eliminators


def _finite(literals: list[_Literal]):
    for literal in literals:
        values = _representatives(literal)
        if values is None:
            continue
        eliminators = _eliminate(values, literals, [literal])
        if eliminators is not None:
            return "none of the values it allows fits", [literal, *eliminators]
    return None


# --- findings as diagnostics --------------------------------------------------------------------

def _from_finding(finding: Finding) -> Diagnostic | None:
    spans = [c.span for c in finding.conditions if c.span is not None]
    if not spans:
        return None
    first = min(spans, key=lambda s: s.start)
    last = max(spans, key=lambda s: s.end)
    shown = [format_expression(c) for c in finding.conditions]
    who = "event" if finding.attribute else "contact"
    if finding.rule is Rule.NEVER and len(shown) == 1:
        message = f"{shown[0]} can never hold (its range is empty): it matches no {who}"
        suggestion = "write the earlier value first"
    elif finding.rule is Rule.NEVER:
        together = "both" if len(shown) == 2 else "all"
        message = (f"{' and '.join(shown)} can never {together} hold ({finding.reason}): "
                   f"this part matches no {who}")
        suggestion = ("remove one of them" if finding.reason.startswith("a condition and")
                      else "check the values; perhaps you meant or")
    elif finding.rule is Rule.ALWAYS:
        message = (f"{' or '.join(shown)} always holds ({finding.reason}): this part "
                   f"matches every {who}")
        suggestion = "remove it, or check what you meant"
    else:
        junction = "and" if isinstance(finding.node, ast.And) else "or"
        message = f"{shown[-1]} appears twice in this {junction}"
        suggestion = "remove the repeated condition"
        first = finding.conditions[-1].span or first
        last = first
    return Diagnostic(Severity.WARNING, message, suggestion, first.line, first.column,
                      last.end_line, last.end_column, first.start, last.end, finding.rule.value)
