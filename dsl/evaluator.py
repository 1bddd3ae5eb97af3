"""The reference evaluator: the meaning of an expression for one contact, in plain Python.

It is the oracle the compiled MongoDB pipeline is tested against, so it is written for
obviousness, not speed. It reads contacts and events in their stored shape (see
docs/data-model.md): `{"id", "fields", "lists", "consent", "suppression"}` and
`{"type", "time", "attributes"}`. Calendar days are those of `zone` (default UTC).
Text compares casefolded; a value of another type than the literal never matches a
positive comparison; every negative operator is exactly `not` of its positive.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from dsl import ast, temporal
from dsl.consent import skip_reason
from dsl.temporal import UTC, Zone
from dsl.values import bucket_bounds, bucket_of, fold

_NEGATED = {ast.CompareOp.NOT_EQUALS: ast.CompareOp.EQUALS,
            ast.CompareOp.NOT_CONTAINS: ast.CompareOp.CONTAINS}


def evaluate(expr: ast.Expression, contact: Mapping, events: Iterable[Mapping],
             now: dt.datetime | None = None, *, zone: Zone = UTC) -> bool:
    """Does `contact` (with its `events`) match `expr` at time `now`, in time zone `zone`?

    `in segment` must have been inlined first (dsl.segments.inline_segments)."""
    by_type: dict[str, list[Mapping]] = defaultdict(list)
    for event in events:
        by_type[event["type"]].append(event)
    return _Evaluation(contact, by_type, temporal.normalize_now(now), zone).holds(expr)


def select(expr: ast.Expression, database: str, contacts: Iterable[Mapping],
           events: Iterable[Mapping], now: dt.datetime | None = None, *,
           range_from: float = 0, range_to: float = 100,
           maximum: int | None = None, zone: Zone = UTC) -> list[str]:
    """The ids of the segment's members, in the maximum's order: by bucket, then contact id.

    `events` carry a `contact` key with the contact id they belong to."""
    low, high = bucket_bounds(range_from, range_to)
    events_of: dict[str, list[Mapping]] = defaultdict(list)
    for event in events:
        events_of[event["contact"]].append(event)
    members = [
        (bucket, contact["id"]) for contact in contacts
        if low <= (bucket := bucket_of(database, contact["id"])) < high
        and evaluate(expr, contact, events_of[contact["id"]], now, zone=zone)
    ]
    members.sort()
    ids = [contact_id for _, contact_id in members]
    return ids if maximum is None else ids[:maximum]


class _Evaluation:
    def __init__(self, contact: Mapping, events: Mapping[str, list[Mapping]],
                 now: dt.datetime, zone: Zone = UTC) -> None:
        self.contact = contact
        self.fields = contact.get("fields") or {}
        self.lists = set(contact.get("lists") or ())
        self.events = events
        self.now = now
        self.zone = zone

    def holds(self, node: ast.Expression) -> bool:
        return ast.dispatch(_HOLDS, node, "evaluate")(self, node)

    def _all_of(self, node: ast.And) -> bool:
        return all(self.holds(operand) for operand in node.operands)

    def _any_of(self, node: ast.Or) -> bool:
        return any(self.holds(operand) for operand in node.operands)

    def _negation(self, node: ast.Not) -> bool:
        return not self.holds(node.operand)

    def _everyone(self, node: ast.MatchAll) -> bool:
        return True

    def _in_list(self, node: ast.InList) -> bool:
        return node.name in self.lists

    def _total(self, node: ast.EventTotal) -> bool:
        return value_matches(node.test, total_of(node, self.events, self.now, self.zone),
                             self.now, self.zone)

    def _event_time(self, node: ast.EventTime) -> bool:
        return value_matches(node.test, time_of(node, self.events), self.now, self.zone)

    def _can_receive(self, node: ast.CanReceive) -> bool:
        return (skip_reason(self.contact, node.channel.value) is None) != node.negated

    def _in_segment(self, node: ast.InSegment) -> bool:
        raise ValueError(f"in segment {node.ref!r} must be inlined before evaluation")

    def _field(self, node: ast.FieldCondition) -> bool:
        return value_matches(node, self.fields.get(node.field), self.now, self.zone)

    def event_holds(self, node: ast.EventCondition) -> bool:
        return count_matches(node, len(matching_events(node, self.events, self.now, self.zone)))


_HOLDS = {ast.And: _Evaluation._all_of, ast.Or: _Evaluation._any_of,
          ast.Not: _Evaluation._negation, ast.MatchAll: _Evaluation._everyone,
          ast.InList: _Evaluation._in_list, ast.InSegment: _Evaluation._in_segment,
          ast.EventCondition: _Evaluation.event_holds, ast.EventTotal: _Evaluation._total,
          ast.EventTime: _Evaluation._event_time, ast.CanReceive: _Evaluation._can_receive,
          **{kind: _Evaluation._field for kind in ast.FIELD_CONDITIONS}}


def matching_events(node: ast.EventCondition | ast.EventTotal,
                    events: Mapping[str, list[Mapping]], now: dt.datetime,
                    zone: Zone = UTC) -> list[Mapping]:
    """The contact's events of the node's type in its window that satisfy its `where`."""
    window = temporal.window_interval(node.window, now, zone)
    return [event for event in events.get(node.event_type, ())
            if window.contains(event["time"])
            and (node.where is None or attributes_match(node.where, event, now, zone))]


def total_of(node: ast.EventTotal, events: Mapping[str, list[Mapping]], now: dt.datetime,
             zone: Zone = UTC) -> int | float | None:
    """The sum (average, minimum, maximum) of the attribute over the matching events whose
    value is a number; with none, the sum is 0 and the others have no value (None)."""
    values = [value for event in matching_events(node, events, now, zone)
              if _is_number(value := (event.get("attributes") or {}).get(node.attribute))]
    if node.aggregate is ast.Aggregate.SUM:
        return sum(values)
    if not values:
        return None
    if node.aggregate is ast.Aggregate.AVERAGE:
        return sum(values) / len(values)
    return min(values) if node.aggregate is ast.Aggregate.MINIMUM else max(values)


def time_of(node: ast.EventTime, events: Mapping[str, list[Mapping]]) -> dt.datetime | None:
    """The time of the contact's first (last) event of the type; None without one."""
    times = [event["time"] for event in events.get(node.event_type, ())]
    if not times:
        return None
    return min(times) if node.edge is ast.Edge.FIRST else max(times)


def count_range(node: ast.EventCondition) -> tuple[int, float]:
    """The counts of matching events for which the condition holds, low to high: `occurred`
    is at least once; `did not occur` is zero; at most N includes zero."""
    if not node.occurred:
        return 0, 0
    if node.count is None:
        return 1, math.inf
    times = node.count.times
    return {ast.CountOp.AT_LEAST: (times, math.inf), ast.CountOp.AT_MOST: (0, times),
            ast.CountOp.EXACTLY: (times, times)}[node.count.op]


def count_matches(node: ast.EventCondition, times: int) -> bool:
    low, high = count_range(node)
    return low <= times <= high


def same_for_counts_up_to(node: ast.EventCondition, times: int) -> bool:
    """Does every count from 0 to `times` give the same answer? Then neither losing events
    (a window moving on) nor which of at most `times` events match can change it."""
    low, high = count_range(node)
    return low <= 0 if low <= times <= high else low > times


def attributes_match(node: ast.Expression, event: Mapping, now: dt.datetime,
                     zone: Zone = UTC) -> bool:
    """Does one event's attributes satisfy a `where` expression?"""
    attributes = event.get("attributes") or {}
    if isinstance(node, ast.And):
        return all(attributes_match(operand, event, now, zone) for operand in node.operands)
    if isinstance(node, ast.Or):
        return any(attributes_match(operand, event, now, zone) for operand in node.operands)
    if isinstance(node, ast.Not):
        return not attributes_match(node.operand, event, now, zone)
    return value_matches(node, attributes.get(node.field), now, zone)


# --- one value against one field condition ------------------------------------------------

def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equals(value: object, literal: ast.Literal, now: dt.datetime, zone: Zone) -> bool:
    if isinstance(literal, ast.String):
        return isinstance(value, str) and fold(value) == fold(literal.value)
    if isinstance(literal, ast.Number):
        return _is_number(value) and value == literal.value
    return (isinstance(value, dt.datetime)
            and temporal.equals_interval(literal, now, zone).contains(value))


def _compare(op: ast.CompareOp, value: object, literal: ast.Literal, now: dt.datetime,
             zone: Zone) -> bool:
    if op in _NEGATED:
        return not _compare(_NEGATED[op], value, literal, now, zone)
    if op is ast.CompareOp.EQUALS:
        return _equals(value, literal, now, zone)
    if op in (ast.CompareOp.GT, ast.CompareOp.GTE, ast.CompareOp.LT, ast.CompareOp.LTE):
        if not (_is_number(value) and isinstance(literal, ast.Number)):
            return False
        bound = literal.value
        return {ast.CompareOp.GT: value > bound, ast.CompareOp.GTE: value >= bound,
                ast.CompareOp.LT: value < bound, ast.CompareOp.LTE: value <= bound}[op]
    if op in (ast.CompareOp.STARTS_WITH, ast.CompareOp.ENDS_WITH, ast.CompareOp.CONTAINS):
        if not (isinstance(value, str) and isinstance(literal, ast.String)):
            return False
        text, part = fold(value), fold(literal.value)
        if op is ast.CompareOp.STARTS_WITH:
            return text.startswith(part)
        if op is ast.CompareOp.ENDS_WITH:
            return text.endswith(part)
        return part in text
    # before / after
    if not (isinstance(value, dt.datetime) and isinstance(literal, ast.DATE_LITERALS)):
        return False
    return temporal.compare_interval(op, literal, now, zone).contains(value)


def value_matches(node: ast.FieldCondition, value: object, now: dt.datetime,
                  zone: Zone = UTC) -> bool:
    """Does a field's (or attribute's) value satisfy a field condition?"""
    if isinstance(node, ast.Compare):
        return _compare(node.op, value, node.value, now, zone)
    if isinstance(node, ast.HasValue):
        present = value is not None and value != ""
        return present == node.present
    if isinstance(node, ast.IsBool):
        return isinstance(value, bool) and value is node.value
    if isinstance(node, ast.InValues):
        found = any(_equals(value, literal, now, zone) for literal in node.values)
        return found != node.negated
    if isinstance(node, ast.InLast):
        return (isinstance(value, dt.datetime)
                and temporal.last_interval(node.amount, node.unit, now, zone).contains(value))
    if isinstance(node, ast.Between):
        if isinstance(node.low, ast.Number) and isinstance(node.high, ast.Number):
            return _is_number(value) and node.low.value <= value <= node.high.value
        if isinstance(node.low, ast.DATE_LITERALS) and isinstance(node.high, ast.DATE_LITERALS):
            return (isinstance(value, dt.datetime) and
                    temporal.between_interval(node.low, node.high, now, zone).contains(value))
        return False
    raise TypeError(f"not a field condition: {node!r}")
