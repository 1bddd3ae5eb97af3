"""AST ↔ the versioned JSON form (the builder UI's and the "Script" editor's format).

`to_json` writes `{"version": 1, "condition": <node or null>}`; `from_json` reads it back
and refuses anything else with a SegmentJsonError that names the JSON path
(`$.condition.and[1].value`). The reader takes exactly what the text parser would: the
same limits on numbers, amounts, counts and nesting, so every JSON form it accepts also
has a text form. docs/json-form.md is the reference; dsl/expression.schema.json the schema.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import orjson

from dsl import ast
from dsl.errors import SegmentJsonError
from dsl.parser import MAX_AMOUNT, MAX_DEPTH, MAX_SAFE_INTEGER
from dsl.values import parse_iso_datetime

JSON_FORM_VERSION = 2  # the newest form this module writes and reads
# Version 2 added totals, first/last times and can receive; an expression without them is
# still written as version 1, so readers of version 1 keep reading what they can.
JSON_FORM_VERSIONS = (1, 2)
_VERSION_2_NODES = (ast.EventTotal, ast.EventTime, ast.CanReceive)
MAX_TIMES = 1_000_000  # `at least N times`, as in the parser

_UTC = dt.timezone.utc
# ASCII digits only ([0-9], not \d), like the grammar.
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                           r"(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})")
_KINDS = ("and", "or", "not", "field", "event", "in_list", "in_segment", "can_receive",
          "cannot_receive")
_WINDOWS = ("in_last", "since", "before", "between")
# The keys of a field condition besides "field" and "op", by op.
_FIELD_KEYS = {**{op.value: ("value",) for op in ast.CompareOp}, "between": ("low", "high"),
               "in": ("values",), "not_in": ("values",), "has_value": (), "has_no_value": (),
               "is_true": (), "is_false": (), "in_last": ("amount", "unit")}


# --- writing -----------------------------------------------------------------------------------

def to_json(expr: ast.Expression) -> dict:
    """The JSON form of `expr` (a dict ready for orjson.dumps); MatchAll is a null condition."""
    condition = None if isinstance(expr, ast.MatchAll) else _encode(expr)
    version = 2 if any(isinstance(node, _VERSION_2_NODES) for node in ast.walk(expr)) else 1
    return {"version": version, "condition": condition}


def _encode(node):
    return _ENCODERS[type(node)](node)


def _timestamp(value: dt.datetime) -> str:
    # JavaScript's Date.toISOString() form: UTC, always milliseconds.
    value = value.astimezone(_UTC)
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _field(node, op: str, **rest) -> dict:
    return {"field": node.field, "op": op, **rest}


def _event(node: ast.EventCondition) -> dict:
    data = {"event": node.event_type, "occurred": node.occurred}
    if node.count is not None:
        data["count"] = {"op": node.count.op.value, "times": node.count.times}
    if node.window is not None:
        data["window"] = _encode(node.window)
    if node.where is not None:
        data["where"] = _encode(node.where)
    return data


def _test(node) -> dict:
    """A total's or an event time's test: a field condition without its field."""
    encoded = _encode(node)
    del encoded["field"]
    return encoded


def _total(node: ast.EventTotal) -> dict:
    data = {"event": node.event_type, "total": node.aggregate.value, "of": node.attribute,
            "test": _test(node.test)}
    if node.window is not None:
        data["window"] = _encode(node.window)
    if node.where is not None:
        data["where"] = _encode(node.where)
    return data


_ENCODERS = {
    ast.String: lambda node: node.value,
    ast.Number: lambda node: node.value,
    ast.Day: lambda node: {"date": node.value.isoformat()},
    ast.Timestamp: lambda node: {"date": _timestamp(node.value)},
    ast.Today: lambda node: {"date": "today"},
    ast.Ago: lambda node: {"date": {"ago": node.amount, "unit": node.unit.value}},
    ast.Compare: lambda node: _field(node, node.op.value, value=_encode(node.value)),
    ast.Between: lambda node: _field(node, "between", low=_encode(node.low),
                                     high=_encode(node.high)),
    ast.InValues: lambda node: _field(node, "not_in" if node.negated else "in",
                                      values=[_encode(value) for value in node.values]),
    ast.HasValue: lambda node: _field(node, "has_value" if node.present else "has_no_value"),
    ast.IsBool: lambda node: _field(node, "is_true" if node.value else "is_false"),
    ast.InLast: lambda node: _field(node, "in_last", amount=node.amount, unit=node.unit.value),
    ast.EventCondition: _event,
    ast.EventTotal: _total,
    ast.EventTime: lambda node: {"event": node.event_type, "time": node.edge.value,
                                 "test": _test(node.test)},
    ast.CanReceive: lambda node: {("cannot_receive" if node.negated else "can_receive"):
                                  node.channel.value},
    ast.LastWindow: lambda node: {"in_last": {"amount": node.amount, "unit": node.unit.value}},
    ast.SinceWindow: lambda node: {"since": _encode(node.start)},
    ast.BeforeWindow: lambda node: {"before": _encode(node.end)},
    ast.BetweenWindow: lambda node: {"between": [_encode(node.start), _encode(node.end)]},
    ast.InList: lambda node: {"in_list": node.name},
    ast.InSegment: lambda node: {"in_segment": node.ref},
    ast.And: lambda node: {"and": [_encode(operand) for operand in node.operands]},
    ast.Or: lambda node: {"or": [_encode(operand) for operand in node.operands]},
    ast.Not: lambda node: {"not": _encode(node.operand)},
}


# --- reading -----------------------------------------------------------------------------------

def from_json(data: dict | str | bytes) -> ast.Expression:
    """The AST of a JSON form, given as parsed JSON or as JSON text."""
    if isinstance(data, (str, bytes)):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise SegmentJsonError(f"this is not valid JSON: {error}", "$") from None
    _expect(data, dict, "$", "an object")
    if "version" not in data:
        raise SegmentJsonError('missing key "version"', "$")
    # The version first: a newer form may well have keys this reader does not know.
    version = data["version"]
    if type(version) is not int or version not in JSON_FORM_VERSIONS:  # not true, not 1.0
        raise SegmentJsonError(f"version {_show(version)} of the JSON form is not known here; "
                               "this reader knows versions "
                               + " and ".join(map(str, JSON_FORM_VERSIONS)), "$.version")
    _keys(data, "$", ("version", "condition"))
    if data["condition"] is None:
        return ast.MatchAll()
    expr = _node(data["condition"], "$.condition", 1, in_where=False)
    if version == 1:
        newer = next((node for node in ast.walk(expr) if isinstance(node, _VERSION_2_NODES)),
                     None)
        if newer is not None:
            raise SegmentJsonError(f"{type(newer).__name__} conditions need version 2 of the "
                                   "JSON form", "$.version")
    return expr


def _node(data, path: str, depth: int, in_where: bool) -> ast.Expression:
    # Depth counts JSON levels, so even `{"and": [{"and": [...]}]}` chains stay bounded.
    if depth > MAX_DEPTH:
        raise SegmentJsonError(f"the condition nests more than {MAX_DEPTH} levels deep", path)
    _expect(data, dict, path, "a condition object")
    kinds = [kind for kind in _KINDS if kind in data]
    if len(kinds) != 1:
        raise SegmentJsonError("a condition has exactly one of the keys " + ", ".join(_KINDS), path)
    kind = kinds[0]
    if in_where and kind not in ("and", "or", "not", "field"):
        raise SegmentJsonError("only attribute conditions (field, and, or, not) can be inside "
                               "an event's where", path)
    if kind in ("and", "or"):
        _keys(data, path, (kind,))
        items = _expect(data[kind], list, f"{path}.{kind}", "a list of conditions")
        if not items:
            raise SegmentJsonError(f"{kind} needs at least one condition", f"{path}.{kind}")
        operands = tuple(_node(item, f"{path}.{kind}[{index}]", depth + 1, in_where)
                         for index, item in enumerate(items))
        if len(operands) == 1:
            return operands[0]
        return (ast.And if kind == "and" else ast.Or)(operands)
    if kind == "not":
        _keys(data, path, ("not",))
        return ast.Not(_node(data["not"], path + ".not", depth + 1, in_where))
    if kind == "field":
        return _field_condition(data, path)
    if kind == "event":
        if "total" in data:
            return _total_condition(data, path, depth)
        if "time" in data:
            return _time_condition(data, path)
        return _event_condition(data, path, depth)
    _keys(data, path, (kind,))
    if kind in ("can_receive", "cannot_receive"):
        channel = _expect(data[kind], str, f"{path}.{kind}", "a channel")
        try:
            return ast.CanReceive(ast.Channel(channel), kind == "cannot_receive")
        except ValueError:
            raise SegmentJsonError(f"unknown channel {_show(channel)}; the channels are email, "
                                   "sms, push", f"{path}.{kind}") from None
    name = _text(_expect(data[kind], str, f"{path}.{kind}", "text"), f"{path}.{kind}")
    return ast.InList(name) if kind == "in_list" else ast.InSegment(name)


def _total_condition(data: dict, path: str, depth: int) -> ast.EventTotal:
    _keys(data, path, ("event", "total", "of", "test"), optional=("window", "where"))
    event_type = _name(data["event"], path + ".event")
    aggregate = _expect(data["total"], str, path + ".total", "text")
    if aggregate not in {kind.value for kind in ast.Aggregate}:
        raise SegmentJsonError(f"unknown total {_show(aggregate)}; the totals are sum, average, "
                               "minimum, maximum", path + ".total")
    attribute = _name(data["of"], path + ".of")
    test = _test_of(data, path)
    test = _field_condition({**test, "field": attribute}, path + ".test")
    window = _window(data["window"], path + ".window") if "window" in data else None
    where = (_node(data["where"], path + ".where", depth + 1, in_where=True)
             if "where" in data else None)
    return ast.EventTotal(event_type, ast.Aggregate(aggregate), test, window, where)


# The tests the text form can write after `first occurred` / `last occurred`.
_TIME_OPS = (*(op.value for op in ast.CompareOp), "between", "in_last")


def _test_of(data: dict, path: str) -> dict:
    test = _expect(data["test"], dict, path + ".test", "an object")
    if "field" in test:
        raise SegmentJsonError('unknown key "field": a test names no field', path + ".test")
    return test


def _time_condition(data: dict, path: str) -> ast.EventTime:
    _keys(data, path, ("event", "time", "test"))
    event_type = _name(data["event"], path + ".event")
    edge = _expect(data["time"], str, path + ".time", "text")
    if edge not in {kind.value for kind in ast.Edge}:
        raise SegmentJsonError(f"unknown time {_show(edge)}; the times are first, last",
                               path + ".time")
    test = _test_of(data, path)
    if test.get("op") not in _TIME_OPS:
        raise SegmentJsonError(f"the test of a time takes one of the ops {', '.join(_TIME_OPS)}, "
                               f"not {_show(test.get('op'))}", path + ".test.op")
    return ast.EventTime(event_type, ast.Edge(edge),
                         _field_condition({**test, "field": ast.EVENT_TIME_FIELD}, path + ".test"))


def _field_condition(data: dict, path: str) -> ast.FieldCondition:
    if "op" not in data:
        raise SegmentJsonError('missing key "op"', path)
    op = _expect(data["op"], str, path + ".op", "text")
    if op not in _FIELD_KEYS:
        raise SegmentJsonError(f"unknown op {_show(op)}; the ops are "
                               + ", ".join(_FIELD_KEYS), path + ".op")
    _keys(data, path, ("field", "op", *_FIELD_KEYS[op]))
    field = _name(data["field"], path + ".field")
    if op == "between":
        return ast.Between(field, _value(data["low"], path + ".low"),
                           _value(data["high"], path + ".high"))
    if op in ("in", "not_in"):
        items = _expect(data["values"], list, path + ".values", "a list of values")
        if not items:
            raise SegmentJsonError(f"{op} needs at least one value", path + ".values")
        values = tuple(_value(item, f"{path}.values[{index}]") for index, item in enumerate(items))
        return ast.InValues(field, values, op == "not_in")
    if op in ("has_value", "has_no_value"):
        return ast.HasValue(field, op == "has_value")
    if op in ("is_true", "is_false"):
        return ast.IsBool(field, op == "is_true")
    if op == "in_last":
        return ast.InLast(field, *_amount(data, path, 1))
    return ast.Compare(field, ast.CompareOp(op), _value(data["value"], path + ".value"))


def _event_condition(data: dict, path: str, depth: int) -> ast.EventCondition:
    _keys(data, path, ("event", "occurred"), optional=("count", "window", "where"))
    event_type = _name(data["event"], path + ".event")
    occurred = _expect(data["occurred"], bool, path + ".occurred", "true or false")
    count = window = where = None
    if "count" in data:
        if not occurred:
            raise SegmentJsonError('a count needs "occurred": true (did not occur means zero '
                                   "times)", path + ".count")
        count = _count(data["count"], path + ".count")
    if "window" in data:
        window = _window(data["window"], path + ".window")
    if "where" in data:
        where = _node(data["where"], path + ".where", depth + 1, in_where=True)
    return ast.EventCondition(event_type, occurred, count, window, where)


def _count(data, path: str) -> ast.Count:
    _keys(_expect(data, dict, path, "an object"), path, ("op", "times"))
    op = _expect(data["op"], str, path + ".op", "text")
    if op not in {count_op.value for count_op in ast.CountOp}:
        raise SegmentJsonError(f"unknown count op {_show(op)}; the ops are at_least, at_most, "
                               "exactly", path + ".op")
    return ast.Count(ast.CountOp(op), _integer(data["times"], path + ".times", 0, MAX_TIMES))


def _window(data, path: str) -> ast.Window:
    _expect(data, dict, path, "an object")
    kinds = [kind for kind in _WINDOWS if kind in data]
    if len(kinds) != 1:
        raise SegmentJsonError("a window has exactly one of the keys " + ", ".join(_WINDOWS), path)
    kind = kinds[0]
    _keys(data, path, (kind,))
    inner = f"{path}.{kind}"
    if kind == "in_last":
        _keys(_expect(data[kind], dict, inner, "an object"), inner, ("amount", "unit"))
        return ast.LastWindow(*_amount(data[kind], inner, 1))
    if kind == "since":
        return ast.SinceWindow(_date(data[kind], inner))
    if kind == "before":
        return ast.BeforeWindow(_date(data[kind], inner))
    dates = _expect(data[kind], list, inner, "a list of two dates")
    if len(dates) != 2:
        raise SegmentJsonError(f"between takes two dates, not {len(dates)}", inner)
    return ast.BetweenWindow(_date(dates[0], inner + "[0]"), _date(dates[1], inner + "[1]"))


# --- values ----------------------------------------------------------------------------------

def _value(data, path: str) -> ast.Literal:
    if isinstance(data, str):
        return ast.String(_text(data, path))
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return ast.Number(_number(data, path))
    if isinstance(data, dict):
        return _date(data, path)
    raise SegmentJsonError(f"expected text, a number or a date object, not {_show(data)}", path)


def _number(value: int | float, path: str) -> int | float:
    if isinstance(value, int):
        return _integer(value, path, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if not math.isfinite(value):
        raise SegmentJsonError(f"a number must be finite, not {value}", path)
    return value


def _date(data, path: str) -> ast.DateLiteral:
    _keys(_expect(data, dict, path, 'a date object such as {"date": "2024-05-01"}'), path,
          ("date",))
    value, path = data["date"], path + ".date"
    if isinstance(value, dict):
        _keys(value, path, ("ago", "unit"))
        return ast.Ago(*_amount(value, path, 0, key="ago"))
    text = _expect(value, str, path, 'a date ("2024-05-01", "2024-05-01T10:00:00.000Z", '
                                     '"today") or {"ago": N, "unit": "days"}')
    if text == "today":
        return ast.Today()
    try:
        if _DAY_RE.fullmatch(text):
            return ast.Day(dt.date.fromisoformat(text))
        if _TIMESTAMP_RE.fullmatch(text):
            moment = parse_iso_datetime(text, shape=_TIMESTAMP_RE)
            if moment is None:
                dt.datetime.fromisoformat(text)  # ValueError: no such calendar time
                raise OverflowError(text)  # a calendar time that leaves it in UTC
            return ast.Timestamp(moment)
    except OverflowError:
        raise SegmentJsonError(f"{_show(text)} is outside the years 1 to 9999 once converted "
                               "to UTC", path) from None
    except ValueError:
        raise SegmentJsonError(f"{_show(text)} is not a valid date or time", path) from None
    raise SegmentJsonError(f"{_show(text)} is not a date: write YYYY-MM-DD, "
                           "YYYY-MM-DDTHH:MM:SS.mmmZ or today", path)


def _amount(data: dict, path: str, minimum: int, key: str = "amount") -> tuple[int, ast.Unit]:
    unit_text = _expect(data["unit"], str, path + ".unit", "text")
    try:
        unit = ast.Unit(unit_text)
    except ValueError:
        raise SegmentJsonError(f"unknown unit {_show(unit_text)}; the units are hours, days, "
                               "weeks, months", path + ".unit") from None
    return _integer(data[key], f"{path}.{key}", minimum, MAX_AMOUNT[unit]), unit


# --- checks ------------------------------------------------------------------------------------

def _keys(data: dict, path: str, required: tuple, optional: tuple = ()) -> None:
    for key in required:
        if key not in data:
            raise SegmentJsonError(f"missing key {_show(key)}", path)
    for key in data:
        if key not in required and key not in optional:
            raise SegmentJsonError(f"unknown key {_show(key)}; expected "
                                   + ", ".join(required + optional), path)


def _expect(value, kind: type, path: str, what: str):
    if not isinstance(value, kind):
        raise SegmentJsonError(f"expected {what}, not {_show(value)}", path)
    return value


def _integer(value, path: str, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise SegmentJsonError(f"expected a whole number from {minimum:,} to {maximum:,}, "
                               f"not {_show(value)}", path)
    return value


def _text(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # only a Python dict can hold one; JSON text cannot
        raise SegmentJsonError("text holds an unpaired surrogate", path) from None
    return value


def _name(value, path: str) -> str:
    name = _text(_expect(value, str, path, "a name"), path)
    if not name.strip():
        raise SegmentJsonError("a name cannot be blank", path)
    return name


def _show(value) -> str:
    """A JSON value as it would appear in the JSON text, cut short."""
    text = json.dumps(value, ensure_ascii=False, default=repr)  # NaN stays NaN, unlike orjson
    return text if len(text) <= 40 else text[:37] + "..."
