"""Text and JSON round trips over generated ASTs (profiles in conftest.py)."""

from __future__ import annotations

import orjson
from hypothesis import given

from dsl import ast
from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse
from tests.dsl.strategies import expressions, typed_expressions

FIELDS = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean"}
EVENT_TYPES = ["MailClick", "PageVisit"]
ATTRIBUTES = {"url": "text", "price": "number", "sent": "date", "bounced": "boolean"}
LISTS = ["VIP", "Newsletter"]


@given(expressions())
def test_text_round_trip(expr):
    text = format_expression(expr)
    assert parse(text) == expr
    assert format_expression(parse(text)) == text


@given(expressions())
def test_json_round_trip(expr):
    data = to_json(expr)
    assert from_json(data) == expr
    assert from_json(orjson.dumps(data)) == expr


@given(expressions())
def test_text_to_json_to_text(expr):
    text = format_expression(expr)
    assert format_expression(from_json(orjson.dumps(to_json(parse(text))))) == text
    assert to_json(parse(format_expression(from_json(to_json(expr))))) == to_json(expr)


_VALUE_TYPES = {ast.String: "text", ast.Number: "number", ast.Day: "date", ast.Timestamp: "date",
                ast.Today: "date", ast.Ago: "date"}
_ORDER_OPS = {ast.CompareOp.GT, ast.CompareOp.GTE, ast.CompareOp.LT, ast.CompareOp.LTE}
_TEXT_OPS = {ast.CompareOp.STARTS_WITH, ast.CompareOp.ENDS_WITH, ast.CompareOp.CONTAINS,
             ast.CompareOp.NOT_CONTAINS}
_DATE_OPS = {ast.CompareOp.BEFORE, ast.CompareOp.AFTER}


def _check_types(node, schema: dict[str, str]) -> None:
    """The typing rules the strategy promises (the type checker owns the real ones)."""
    if isinstance(node, (ast.And, ast.Or, ast.Not)):
        for child in ast.children(node):
            _check_types(child, schema)
    elif isinstance(node, ast.EventCondition):
        assert node.event_type in EVENT_TYPES
        if node.where is not None:
            _check_types(node.where, ATTRIBUTES)
    elif isinstance(node, ast.EventTotal):
        assert node.event_type in EVENT_TYPES and ATTRIBUTES[node.attribute] == "number"
        _check_types(node.test, ATTRIBUTES)
        if node.where is not None:
            _check_types(node.where, ATTRIBUTES)
    elif isinstance(node, ast.EventTime):
        assert node.event_type in EVENT_TYPES
        _check_types(node.test, {ast.EVENT_TIME_FIELD: "date"})
    elif isinstance(node, ast.CanReceive):
        pass
    elif isinstance(node, ast.InList):
        assert node.name in LISTS
    elif isinstance(node, ast.FIELD_CONDITIONS):
        kind = schema[node.field]
        if isinstance(node, ast.Compare):
            values = [node.value]
            assert (node.op in _ORDER_OPS) <= (kind == "number")
            assert (node.op in _TEXT_OPS) <= (kind == "text")
            assert (node.op in _DATE_OPS) <= (kind == "date")
        elif isinstance(node, ast.Between):
            values = [node.low, node.high]
        else:
            values = list(getattr(node, "values", ()))
        assert all(_VALUE_TYPES[type(value)] == kind for value in values)
        assert not isinstance(node, ast.IsBool) or kind == "boolean"
        assert not isinstance(node, ast.InLast) or kind == "date"
        assert not isinstance(node, ast.Between) or kind != "text"
        assert not (isinstance(node, ast.InValues) and node.negated) or kind in ("text",
                                                                                 "number")
    else:
        assert isinstance(node, ast.MatchAll)


@given(typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS))
def test_typed_expressions_type_check_and_round_trip(expr):
    _check_types(expr, FIELDS)
    assert parse(format_expression(expr)) == expr
    assert from_json(to_json(expr)) == expr
