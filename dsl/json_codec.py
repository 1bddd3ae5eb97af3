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
import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import cachetools
import orjson

from dsl import ast
from dsl.errors import SegmentJsonError
from dsl.parser import MAX_AMOUNT, MAX_DEPTH, MAX_SAFE_INTEGER
from dsl.values import parse_iso_datetime

if TYPE_CHECKING:
    import jsonschema

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
# Two steps. The structure (keys, JSON types, ops, units, ranges, what may stand in an
# event's `where`) is checked against dsl/expression.schema.json, one condition node at a
# time; then the AST is built with the checks the schema cannot express (whole numbers,
# finite numbers, real calendar dates, text that is text, version 2 nodes), which stay here.

_SCHEMA = json.loads(resources.files("dsl").joinpath("expression.schema.json")
                     .read_text("utf-8"))
_CONDITION_REFS = {"#/$defs/condition": False, "#/$defs/attributeCondition": True}


def _one_level(schema):
    """`schema` with its references written out, and every nested condition left open: each
    condition node is validated on its own, so validation never recurses down the tree
    (trees nest up to MAX_DEPTH levels, and the validator takes several stack frames per
    level), and no reference is looked up while validating (that is most of its time)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            if schema["$ref"] in _CONDITION_REFS:
                return True
            target = _one_level(_SCHEMA["$defs"][schema["$ref"].removeprefix("#/$defs/")])
            rest = _one_level({key: value for key, value in schema.items() if key != "$ref"})
            return {**rest, "allOf": [*rest.get("allOf", ()), target]} if rest else target
        return {key: _one_level(value) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_one_level(value) for value in schema]
    return schema


@cache
def _validators() -> tuple[jsonschema.Draft202012Validator,
                           dict[bool, jsonschema.Draft202012Validator]]:
    """Compiled once, at the first form read (importing jsonschema is a good part of a
    command line's start-up, and most commands read no JSON form): the document's top
    level, and a condition (outside and inside an event's where) by `in_where`."""
    import jsonschema

    document = jsonschema.Draft202012Validator(_one_level(_SCHEMA))
    nodes = {in_where: jsonschema.Draft202012Validator(
        _one_level(_SCHEMA["$defs"][ref.removeprefix("#/$defs/")]))
        for ref, in_where in _CONDITION_REFS.items()}
    return document, nodes


# Forms read before, by their repr (which tells a list from a tuple, 1 from 1.0 and true, NaN
# from null): a saved segment's form is read at every evaluation, and validating costs about
# 20 times building (bench/bench_language.py). ASTs are immutable, so one can be shared.
_READ = cachetools.LRUCache(maxsize=16_000_000, getsizeof=lambda entry: entry[0])
_READ_LOCK = threading.Lock()  # the cache is shared by the threads that read forms


def form_key(data: dict) -> str | None:
    """The read-again cache's key of a parsed JSON form (its repr); None when it is nested
    too deep to have one (such a form is refused when read)."""
    try:
        return repr(data)
    except RecursionError:
        return None


def read_before(key: str | None) -> ast.Expression | None:
    """The AST of the form with this key if it was read before, else None (at once)."""
    if key is None:
        return None
    with _READ_LOCK:
        known = _READ.get(key)
    return known[1] if known is not None else None


def keep_read(key: str | None, expr: ast.Expression) -> None:
    """Keep the AST of a form read elsewhere (in a worker process) for the next reads."""
    if key is not None:
        with _READ_LOCK:
            _READ[key] = (len(key), expr)


def from_json(data: dict | str | bytes) -> ast.Expression:
    """The AST of a JSON form, given as parsed JSON or as JSON text."""
    if isinstance(data, (str, bytes)):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise SegmentJsonError(f"this is not valid JSON: {error}", "$") from None
    key = form_key(data)
    known = read_before(key)
    if known is not None:
        return known
    expr = _read(data)  # a form too deep for a key is refused here, with its place
    keep_read(key, expr)
    return expr


def clear_read_cache() -> None:
    """Forget the forms read before (to measure reading itself)."""
    with _READ_LOCK:
        _READ.clear()


def _read(data) -> ast.Expression:
    if not isinstance(data, dict):
        raise SegmentJsonError(f"expected an object, not {_show(data)}", "$")
    if "version" not in data:
        raise SegmentJsonError('missing key "version"', "$")
    # The version first: a newer form may well have keys this reader does not know.
    version = data["version"]
    if type(version) is not int or version not in JSON_FORM_VERSIONS:  # not true, not 1.0
        raise SegmentJsonError(f"version {_show(version)} of the JSON form is not known here; "
                               "this reader knows versions "
                               + " and ".join(map(str, JSON_FORM_VERSIONS)), "$.version")
    _validate(_validators()[0], data, "$")
    if data["condition"] is None:
        return ast.MatchAll()
    _validate_conditions(data["condition"])
    expr = _node(data["condition"], "$.condition")
    if version == 1:
        newer = next((node for node in ast.walk(expr) if isinstance(node, _VERSION_2_NODES)),
                     None)
        if newer is not None:
            raise SegmentJsonError(f"{type(newer).__name__} conditions need version 2 of the "
                                   "JSON form", "$.version")
    return expr


def _validate_conditions(condition) -> None:
    """Validate every condition node against the schema, in document order, without
    recursion; refuse nesting deeper than MAX_DEPTH before validating any node below it.
    Depth counts JSON levels, so even `{"and": [{"and": [...]}]}` chains stay bounded."""
    nodes = _validators()[1]
    pending = [(condition, "$.condition", 1, False)]
    while pending:
        node, path, depth, in_where = pending.pop()
        if depth > MAX_DEPTH:
            raise SegmentJsonError(f"the condition nests more than {MAX_DEPTH} levels deep",
                                   path)
        _validate(nodes[in_where], node, path)
        below = []
        for kind in ("and", "or"):
            if isinstance(node.get(kind), list):
                below += [(item, f"{path}.{kind}[{index}]", depth + 1, in_where)
                          for index, item in enumerate(node[kind])]
        if "not" in node:
            below.append((node["not"], path + ".not", depth + 1, in_where))
        if "where" in node:
            below.append((node["where"], path + ".where", depth + 1, True))
        pending.extend(reversed(below))


def _validate(validator: jsonschema.Draft202012Validator, data, path: str) -> None:
    """Raise the first problem the schema finds in `data` (at `path`), in words."""
    try:
        errors = [error for error in validator.iter_errors(data) if not _unit_unknown(error)]
    except RecursionError:  # a value nested thousands deep (the validator shows values)
        raise SegmentJsonError("a value here nests too deep to be part of a condition",
                               path) from None
    if errors:
        # The shallowest problem first (a missing key before what is inside), and a value of
        # the wrong type before what that value would need.
        error = min(errors, key=lambda error: (len(error.absolute_path),
                                               error.validator != "type"))
        where = path + "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                               for part in error.absolute_path)
        message, below = _message(error, data)
        raise SegmentJsonError(message, where + below)


_AMOUNT_LIMITS = tuple(_SCHEMA["$defs"][name] for name in ("amountLimit", "agoLimit"))


def _unit_unknown(error: jsonschema.ValidationError) -> bool:
    """A limit per unit, where the unit itself is wrong: the unit's error says it better."""
    return error.validator == "oneOf" and error.schema in _AMOUNT_LIMITS and (
        not isinstance(error.instance, dict) or not _is_unit(error.instance.get("unit")))


def _one_of_keys(schema) -> dict[str, str]:
    """Each "exactly one of the keys" rule of the schema (an anyOf of one required key
    each) as {key: the rule's words}: a second such key is refused as an unknown key of the
    first one's shape, and said in these words."""
    found = {}
    if isinstance(schema, dict):
        choices = schema.get("anyOf")
        if choices and all(set(choice) == {"required"} for choice in choices):
            found.update({choice["required"][0]: schema["description"] for choice in choices})
        for value in schema.values():
            found.update(_one_of_keys(value))
    elif isinstance(schema, list):
        for value in schema:
            found.update(_one_of_keys(value))
    return found


_ONE_OF_KEYS = _one_of_keys(_SCHEMA)
_UNIT_NAMES = {unit.value for unit in ast.Unit}


def _is_unit(value) -> bool:
    return isinstance(value, str) and value in _UNIT_NAMES


_TYPE_NAMES = {"string": "text", "number": "a number", "integer": "a whole number",
               "boolean": "true or false", "object": "an object", "array": "a list",
               "null": "null"}
# What a value at a key is called in "unknown ..." (by default the key itself).
_ENUM_NAMES = {"can_receive": "channel", "cannot_receive": "channel"}


def _message(error: jsonschema.ValidationError, data) -> tuple[str, str]:
    """(the problem in words, the path below the error's own where it is) for an error in
    `data`. A schema's `title` names what its value should be; a rule's `description` says
    what it wants."""
    schema, value, keyword = error.schema, error.instance, error.validator
    path = list(error.absolute_path)
    description = schema.get("description", "") if isinstance(schema, dict) else ""
    if keyword == "type":
        types = error.validator_value
        noun = schema.get("title") or " or ".join(
            _TYPE_NAMES[kind] for kind in ([types] if isinstance(types, str) else types))
        return f"expected {noun}, not {_show(value)}", ""
    if keyword == "required":
        missing = next(key for key in error.validator_value if key not in value)
        return f"missing key {_show(missing)}", ""
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        unknown = next(key for key in value if key not in known)
        if known and unknown in _ONE_OF_KEYS and \
                _ONE_OF_KEYS.get(known[0]) == _ONE_OF_KEYS[unknown]:
            return _ONE_OF_KEYS[unknown], ""  # a second `and`, `event`, `since`, ...
        return f"unknown key {_show(unknown)}; expected " + ", ".join(known), ""
    if keyword == "enum":
        choices = ", ".join(map(str, error.validator_value))
        if description:
            return f"{description} {choices}, not {_show(value)}", ""
        key = path[-1] if path else "value"
        what = "count op" if path[-2:] == ["count", "op"] else _ENUM_NAMES.get(key, key)
        return f"unknown {what} {_show(value)}; the {what}s are {choices}", ""
    if keyword == "pattern":
        return f"{_show(value)} {description}", ""
    if keyword in ("minItems", "maxItems"):
        exact = schema.get("minItems") == schema.get("maxItems")
        return (f"{description}, not {len(value)}" if exact else description), ""
    if keyword in ("minimum", "maximum"):
        parent = _at(data, path[:-1])
        return _range_message(path[-1], value, parent), ""
    if keyword == "oneOf" and schema in _AMOUNT_LIMITS:
        key = "amount" if schema == _AMOUNT_LIMITS[0] else "ago"
        return _range_message(key, value.get(key), value), "." + key
    if description:
        return description, ""
    return error.message, ""


def _at(root, path: list):
    for part in path:
        root = root[part]
    return root


def _range(key: str, parent) -> tuple[int, int]:
    """The whole numbers a count or an amount of a unit can be (as the text parser)."""
    if key == "times":
        return 0, MAX_TIMES
    unit = parent.get("unit") if isinstance(parent, dict) else None
    maximum = MAX_AMOUNT[ast.Unit(unit)] if _is_unit(unit) else max(MAX_AMOUNT.values())
    return (1 if key == "amount" else 0), maximum


def _range_message(key: str, value, parent) -> str:
    minimum, maximum = _range(key, parent)
    return f"expected a whole number from {minimum:,} to {maximum:,}, not {_show(value)}"


# Building the AST from a form the schema took: only what the schema cannot say is checked.

def _node(data: dict, path: str) -> ast.Expression:
    if "and" in data or "or" in data:
        kind = "and" if "and" in data else "or"
        operands = tuple(_node(item, f"{path}.{kind}[{index}]")
                         for index, item in enumerate(data[kind]))
        if len(operands) == 1:
            return operands[0]
        return (ast.And if kind == "and" else ast.Or)(operands)
    if "not" in data:
        return ast.Not(_node(data["not"], path + ".not"))
    if "field" in data:
        return _field_condition(data, path)
    if "event" in data:
        return _event_node(data, path)
    if "can_receive" in data or "cannot_receive" in data:
        negated = "cannot_receive" in data
        return ast.CanReceive(ast.Channel(data["cannot_receive" if negated else "can_receive"]),
                              negated)
    kind = "in_list" if "in_list" in data else "in_segment"
    name = _text(data[kind], f"{path}.{kind}")
    return ast.InList(name) if kind == "in_list" else ast.InSegment(name)


def _event_node(data: dict, path: str) -> ast.Expression:
    event_type = _text(data["event"], path + ".event")
    if "time" in data:
        test = _field_condition({**data["test"], "field": ast.EVENT_TIME_FIELD}, path + ".test")
        return ast.EventTime(event_type, ast.Edge(data["time"]), test)
    window = _window(data["window"], path + ".window") if "window" in data else None
    where = _node(data["where"], path + ".where") if "where" in data else None
    if "total" in data:
        test = _field_condition({**data["test"], "field": _text(data["of"], path + ".of")},
                                path + ".test")
        return ast.EventTotal(event_type, ast.Aggregate(data["total"]), test, window, where)
    count = None
    if "count" in data:
        count = ast.Count(ast.CountOp(data["count"]["op"]),
                          _integer(data["count"]["times"], path + ".count.times", 0, MAX_TIMES))
    return ast.EventCondition(event_type, data["occurred"], count, window, where)


def _field_condition(data: dict, path: str) -> ast.FieldCondition:
    field, op = _text(data["field"], path + ".field"), data["op"]
    if op == "between":
        return ast.Between(field, _value(data["low"], path + ".low"),
                           _value(data["high"], path + ".high"))
    if op in ("in", "not_in"):
        values = tuple(_value(item, f"{path}.values[{index}]")
                       for index, item in enumerate(data["values"]))
        return ast.InValues(field, values, op == "not_in")
    if op in ("has_value", "has_no_value"):
        return ast.HasValue(field, op == "has_value")
    if op in ("is_true", "is_false"):
        return ast.IsBool(field, op == "is_true")
    if op == "in_last":
        return ast.InLast(field, *_amount(data, path, "amount"))
    return ast.Compare(field, ast.CompareOp(op), _value(data["value"], path + ".value"))


def _window(data: dict, path: str) -> ast.Window:
    if "in_last" in data:
        return ast.LastWindow(*_amount(data["in_last"], path + ".in_last", "amount"))
    if "since" in data:
        return ast.SinceWindow(_date(data["since"], path + ".since"))
    if "before" in data:
        return ast.BeforeWindow(_date(data["before"], path + ".before"))
    start, end = data["between"]
    return ast.BetweenWindow(_date(start, path + ".between[0]"),
                             _date(end, path + ".between[1]"))


def _value(data, path: str) -> ast.Literal:
    if isinstance(data, str):
        return ast.String(_text(data, path))
    if isinstance(data, dict):
        return _date(data, path)
    return ast.Number(_number(data, path))


def _number(value: int | float, path: str) -> int | float:
    if isinstance(value, int):
        return _integer(value, path, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if not math.isfinite(value):
        raise SegmentJsonError(f"a number must be finite, not {value}", path)
    return value


def _date(data: dict, path: str) -> ast.DateLiteral:
    value, path = data["date"], path + ".date"
    if isinstance(value, dict):
        return ast.Ago(*_amount(value, path, "ago"))
    if value == "today":
        return ast.Today()
    try:
        if _DAY_RE.fullmatch(value):
            return ast.Day(dt.date.fromisoformat(value))
        moment = parse_iso_datetime(value, shape=_TIMESTAMP_RE)
        if moment is None:
            dt.datetime.fromisoformat(value)  # ValueError: no such calendar time
            raise OverflowError(value)  # a calendar time that leaves it in UTC
        return ast.Timestamp(moment)
    except OverflowError:
        raise SegmentJsonError(f"{_show(value)} is outside the years 1 to 9999 once converted "
                               "to UTC", path) from None
    except ValueError:
        raise SegmentJsonError(f"{_show(value)} is not a valid date or time", path) from None


def _amount(data: dict, path: str, key: str) -> tuple[int, ast.Unit]:
    unit = ast.Unit(data["unit"])
    minimum, maximum = _range(key, data)
    return _integer(data[key], f"{path}.{key}", minimum, maximum), unit


# --- checks ------------------------------------------------------------------------------------

def _integer(value, path: str, minimum: int, maximum: int) -> int:
    # The schema's "integer" takes 1.0 too; the text form has no such number.
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


def _show(value) -> str:
    """A JSON value as it would appear in the JSON text, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)  # NaN stays NaN, unlike orjson
    except (RecursionError, ValueError):  # nested too deep to show (or a circular dict)
        text = "[...]" if isinstance(value, list) else "{...}"
    return text if len(text) <= 40 else text[:37] + "..."
