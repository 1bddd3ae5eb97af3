"""Any input ends in an AST or a SegmentError: never another exception, never a hang.

Hostile inputs (a megabyte, ten thousand levels of nesting) are checked by the work they
cause, not by the clock: refused before parsing where a limit applies, and handled without
recursion per level (they run under a recursion limit a small constant above the caller's
depth). Their times are in bench/bench_language.py (docs/benchmarks.md)."""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import ast
from dsl.errors import SegmentError, SegmentLimitError
from dsl.parser import MAX_DEPTH, MAX_EXPRESSION_LENGTH, parse
from dsl.schema import FieldSchema
from dsl.typecheck import check

GRAMMAR = resources.files("grammar").joinpath("segmentql.lark").read_text("utf-8")
KEYWORDS = sorted(set(re.findall(r'^_?[A-Z_]+(?:\.\d)?: +"([a-z]+)"i$', GRAMMAR, re.M)))
SCHEMA = FieldSchema.from_json({"City": "text", "Age": "number", "Signup": "date",
                                "Newsletter": "boolean"})
# Frames the language may use below the caller, whatever the input's size or nesting: the
# parser builds the AST inside Lark's LALR loop and every pass walks with a stack.
STACK_FRAMES = 150

TOKENS = st.sampled_from(KEYWORDS + [
    "doesn't", "(", ")", ",", "=", "!=", ">", ">=", "<", "<=", "City", "Age", "Signup",
    "Newsletter", "price", "url", "MailClick", "`Customer Status`", "`and`", "``", "`a.b`",
    '"x"', "'y'", '"\\u00e9"', '"\\q"', '"open', "5", "-3", "2.5", "1e400", "9007199254740993",
    "0", "2024-05-01", "2024-02-30", "2024-05-01T10:00:00Z", "2024-05-01T25:00Z", "\n", "&",
    "é", "\t", "'",
])
GRAMMAR_LIKE = st.lists(TOKENS, max_size=40).map(" ".join)
GLUED = st.lists(TOKENS, max_size=40).map("".join)


def outcome(text: str):
    """Parse (and type-check) `text`: the AST, or the SegmentError, nothing else."""
    try:
        tree = parse(text)
    except SegmentError as error:
        rendered = str(error)  # formatting the message must not fail either
        assert error.message in rendered
        if error.line is not None:
            assert 1 <= error.line <= text.count("\n") + 1
            assert error.column >= 1
        if error.snippet is not None and not error.snippet.startswith("  ..."):
            assert error.snippet.split("\n")[1].index("^") == 2 + error.column - 1
        return error
    assert isinstance(tree, (ast.And, ast.Or, ast.Not, ast.MatchAll, *ast.EVENT_CONDITIONS,
                             ast.CanReceive, ast.InList, ast.InSegment, *ast.FIELD_CONDITIONS))
    problems = check(tree, SCHEMA, source=text, event_types=["Purchase"], lists=["VIP"])
    assert all(isinstance(problem, SegmentError) for problem in problems)
    positions = [(problem.line, problem.column) for problem in problems]
    assert positions == sorted(positions)  # in source order
    for problem in problems:
        str(problem)
    return tree


# The number of examples comes from the active profile (tests/dsl/conftest.py).
ROBUST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROBUST
@given(st.text(max_size=300))
def test_any_text(text):
    outcome(text)


@ROBUST
@given(st.binary(max_size=300))
def test_any_bytes(data):
    outcome(data.decode("utf-8", errors="replace"))


@ROBUST
@given(GRAMMAR_LIKE)
def test_sequences_of_grammar_tokens(text):
    outcome(text)


@ROBUST
@given(GLUED)
def test_glued_tokens(text):
    outcome(text)


@ROBUST
@given(st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=12), st.booleans())
def test_keyword_runs(words, upper):
    text = " ".join(words)
    outcome(text.upper() if upper else text)


@contextlib.contextmanager
def stack_bound():
    """At most STACK_FRAMES frames of recursion below the caller: a pass that recursed once
    per nesting level stops with a RecursionError on the inputs below."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + STACK_FRAMES)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def bounded(text: str):
    with stack_bound():
        return outcome(text)


def test_the_stack_bound_catches_recursion_per_level():
    """The bound is a real one: a recursive walk of a deep tree fails under it."""
    def depth(node) -> int:
        return 1 + max((depth(child) for child in ast.children(node)), default=0)

    tree = ast.Compare("City", ast.CompareOp.EQUALS, ast.Number(1))
    for _ in range(STACK_FRAMES):
        tree = ast.Not(tree)
    with pytest.raises(RecursionError), stack_bound():
        depth(tree)


def test_one_megabyte_is_refused_by_its_length():
    error = bounded("City = 1 or " * 90_000)  # about 1 MB
    assert isinstance(error, SegmentLimitError)
    assert error.line is None  # refused by its length alone, before any token is read
    assert "the limit is 262,144" in error.message
    assert "in segment" in error.suggestion


def test_exactly_the_length_limit_is_taken():
    text = 'City = "' + "x" * (MAX_EXPRESSION_LENGTH - 9) + '"'
    assert len(text) == MAX_EXPRESSION_LENGTH
    assert bounded(text) == ast.Compare("City", ast.CompareOp.EQUALS,
                                      ast.String("x" * (MAX_EXPRESSION_LENGTH - 9)))
    assert isinstance(bounded(text + " "), SegmentLimitError)


def test_ten_thousand_parentheses():
    result = bounded("(" * 10_000 + "City = 1" + ")" * 10_000)
    assert isinstance(result, (ast.Compare, SegmentError))
    assert isinstance(bounded("(" * 10_000 + "City = " + ")" * 10_000), SegmentError)
    assert isinstance(bounded("(" * 10_000 + "City = 1"), SegmentError)


def test_ten_thousand_nested_groups():
    assert isinstance(bounded("all of (" * 10_000 + "City = 1" + ")" * 10_000),
                      (ast.Compare, SegmentError))


@pytest.mark.parametrize("text", [
    "not " * 10_000 + "City = 1",
    "(City = 1 and " * 10_000 + "City = 2" + ")" * 10_000,
    "any of (City = 1, " * 2_000 + "City = 2" + ")" * 2_000,
])
def test_deep_nesting_is_a_limit_error(text):
    error = bounded(text)
    assert isinstance(error, SegmentLimitError)
    assert error.message == f"the expression nests more than {MAX_DEPTH} levels deep"


def test_depth_limit_boundary():
    assert isinstance(bounded("not " * (MAX_DEPTH - 1) + "City = 1"), ast.Not)
    assert isinstance(bounded("not " * MAX_DEPTH + "City = 1"), SegmentLimitError)


def test_a_hundred_kilobytes_of_flat_or_parses():
    text = " or ".join(f"Age = {number}" for number in range(9_000))
    assert len(text) > 100_000
    tree = bounded(text)
    assert isinstance(tree, ast.Or) and len(tree.operands) == 9_000


def test_many_problems_are_all_reported():
    text = " or ".join(f"Agee = {number}" for number in range(5_000))
    with stack_bound():
        problems = check(parse(text), SCHEMA, source=text)
    assert len(problems) == 5_000
    assert all("Agee" in problem.message for problem in problems)
    starts = [problem.start for problem in problems]
    assert starts == sorted(starts) and starts[0] == 0
