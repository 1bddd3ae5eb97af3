"""Explain: why a contact does or does not match an expression, condition by condition.

`explain(expr, contact, events, now)` returns a tree mirroring the expression. Each node has
its canonical text and whether it held; a field condition also carries the value the
contact has (or none), an event condition how many of the contact's events of its type
there are, how many fall in the window, how many of those satisfy `where` (the number the
condition counts) and the window's bounds; `and`, `or` and `not` carry their children.

It answers with the reference evaluator's own functions (`value_matches`, `count_matches`,
the windows of dsl/temporal.py), so `explain(...).held` is always `evaluate(...)`.
Contacts and events have the evaluator's shape: `{"id", "fields", "lists"}` and
`{"type", "time", "attributes"}`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dsl import ast, temporal
from dsl.consent import skip_reason
from dsl.evaluator import (attributes_match, count_matches, matching_events, time_of, total_of,
                           value_matches)
from dsl.formatter import format_expression
from dsl.temporal import UTC, Zone


class ExplainKind(str, enum.Enum):
    AND = "and"
    OR = "or"
    NOT = "not"
    FIELD = "field"
    EVENT = "event"
    LIST = "list"
    SEGMENT = "segment"
    TOTAL = "total"  # event T sum of A ...: `value` is the total, `matching` its events
    EVENT_TIME = "event_time"  # event T first / last occurred ...: `value` is that time
    CONSENT = "consent"  # can receive C: `value` is why not (a skip reason), or None
    EVERYONE = "everyone"  # the empty expression: every contact


@dataclass(frozen=True)
class ExplainNode:
    """One node of the expression, evaluated for one contact.

    Field conditions: `field`, `value` (what the contact has; None when it has none) and
    `value_text` (it as SegmentQL writes it, or "no value"). Event conditions:
    `event_type`, `events` (of that type), `in_window`, `matching` (in the window and
    satisfying `where`: what the count is compared with). `window_start`/`window_end`: an
    event condition's window, or the range of instants a date condition compares with
    (None: open); `*_inclusive` say whether the bound itself is in. Lists and segments:
    `name`. In-segment nodes have the segment's definition as their child."""

    kind: ExplainKind
    text: str
    held: bool
    children: tuple[ExplainNode, ...] = ()
    field: str | None = None
    value: object = None
    value_text: str | None = None
    event_type: str | None = None
    events: int | None = None
    in_window: int | None = None
    matching: int | None = None
    window_start: dt.datetime | None = None
    window_start_inclusive: bool = True
    window_end: dt.datetime | None = None
    window_end_inclusive: bool = True
    name: str | None = None
    span: ast.Span | None = None

    def walk(self):
        """This node and every node below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def explain(expr: ast.Expression, contact: Mapping, events: Iterable[Mapping],
            now: dt.datetime | None = None, *,
            segments: Mapping[str, ast.Expression] | None = None,
            zone: Zone = UTC) -> ExplainNode:
    """The explanation tree of `expr` for `contact` and its `events` at `now` (calendar
    days in `zone`).

    `segments` maps each `in segment` reference to the segment's (inlined) definition;
    an `in segment` without one is an error, as in evaluate()."""
    by_type: dict[str, list[Mapping]] = defaultdict(list)
    for event in events:
        by_type[event["type"]].append(event)
    explainer = _Explainer(contact, by_type, temporal.normalize_now(now), segments or {}, zone)
    # Post-order without recursion: trees (with inlined segments) can be deep.
    results: list[ExplainNode] = []
    stack: list[tuple[ast.Expression, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        below = explainer.below(node)
        if below and not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(below))
            continue
        children = tuple(results[len(results) - len(below):]) if below else ()
        if below:
            del results[len(results) - len(below):]
        results.append(explainer.node(node, children))
    return results[0]


class _Explainer:
    def __init__(self, contact: Mapping, events: Mapping[str, list[Mapping]],
                 now: dt.datetime, segments: Mapping[str, ast.Expression],
                 zone: Zone = UTC) -> None:
        self.contact = contact
        self.zone = zone
        self.fields = contact.get("fields") or {}
        self.lists = set(contact.get("lists") or ())
        self.events = events
        self.now = now
        self.segments = segments

    def below(self, node: ast.Expression) -> tuple[ast.Expression, ...]:
        if isinstance(node, (ast.And, ast.Or)):
            return node.operands
        if isinstance(node, ast.Not):
            return (node.operand,)
        if isinstance(node, ast.InSegment):
            if node.ref not in self.segments:
                raise ValueError(f"in segment {node.ref!r} needs the segment's definition")
            return (self.segments[node.ref],)
        return ()

    def node(self, node: ast.Expression, children: tuple[ExplainNode, ...]) -> ExplainNode:
        return ast.dispatch(_NODES, node, "explain")(self, node, format_expression(node),
                                                      children)

    def _all_of(self, node: ast.And, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.AND, text, all(c.held for c in children), children,
                           span=node.span)

    def _any_of(self, node: ast.Or, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.OR, text, any(c.held for c in children), children,
                           span=node.span)

    def _negation(self, node: ast.Not, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.NOT, text, not children[0].held, children,
                           span=node.span)

    def _everyone(self, node: ast.MatchAll, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.EVERYONE, "(every contact)", True, span=node.span)

    def _in_list(self, node: ast.InList, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.LIST, text, node.name in self.lists, name=node.name,
                           span=node.span)

    def _in_segment(self, node: ast.InSegment, text: str, children) -> ExplainNode:
        return ExplainNode(ExplainKind.SEGMENT, text, children[0].held, children,
                           name=node.ref, span=node.span)

    def _event_time(self, node: ast.EventTime, text: str, children) -> ExplainNode:
        value = time_of(node, self.events)
        return ExplainNode(ExplainKind.EVENT_TIME, text,
                           value_matches(node.test, value, self.now, self.zone),
                           event_type=node.event_type, value=value,
                           value_text=show_value(value),
                           events=len(self.events.get(node.event_type, ())), span=node.span,
                           **_bounds(_date_interval(node.test, self.now, self.zone)))

    def _can_receive(self, node: ast.CanReceive, text: str, children) -> ExplainNode:
        reason = skip_reason(self.contact, node.channel.value)
        return ExplainNode(ExplainKind.CONSENT, text, (reason is None) != node.negated,
                           value=reason, value_text=reason or "can receive", span=node.span)

    def _field(self, node: ast.FieldCondition, text: str, children) -> ExplainNode:
        value = self.fields.get(node.field)
        return ExplainNode(ExplainKind.FIELD, text, value_matches(node, value, self.now, self.zone),
                           field=node.field, value=value, value_text=show_value(value),
                           span=node.span, **_bounds(_date_interval(node, self.now, self.zone)))

    def total(self, node: ast.EventTotal, text: str, children=()) -> ExplainNode:
        window = temporal.window_interval(node.window, self.now, self.zone)
        of_type = self.events.get(node.event_type, ())
        value = total_of(node, self.events, self.now, self.zone)
        return ExplainNode(ExplainKind.TOTAL, text,
                           value_matches(node.test, value, self.now, self.zone),
                           field=node.attribute, value=value, value_text=show_value(value),
                           event_type=node.event_type, events=len(of_type),
                           in_window=sum(1 for event in of_type if window.contains(event["time"])),
                           matching=len(matching_events(node, self.events, self.now, self.zone)),
                           span=node.span, **_bounds(window))

    def event(self, node: ast.EventCondition, text: str, children=()) -> ExplainNode:
        window = temporal.window_interval(node.window, self.now, self.zone)
        of_type = self.events.get(node.event_type, ())
        in_window = [event for event in of_type if window.contains(event["time"])]
        matching = sum(1 for event in in_window
                       if node.where is None
                       or attributes_match(node.where, event, self.now, self.zone))
        return ExplainNode(ExplainKind.EVENT, text, count_matches(node, matching),
                           event_type=node.event_type, events=len(of_type),
                           in_window=len(in_window), matching=matching, span=node.span,
                           **_bounds(window))


_NODES = {ast.And: _Explainer._all_of, ast.Or: _Explainer._any_of,
          ast.Not: _Explainer._negation, ast.MatchAll: _Explainer._everyone,
          ast.InList: _Explainer._in_list, ast.InSegment: _Explainer._in_segment,
          ast.EventCondition: _Explainer.event, ast.EventTotal: _Explainer.total,
          ast.EventTime: _Explainer._event_time, ast.CanReceive: _Explainer._can_receive,
          **{kind: _Explainer._field for kind in ast.FIELD_CONDITIONS}}


def _date_interval(node: ast.FieldCondition, now: dt.datetime,
                   zone: Zone = UTC) -> temporal.Interval | None:
    """The instants a date condition compares the value with, when it has them."""
    if isinstance(node, ast.InLast):
        return temporal.last_interval(node.amount, node.unit, now, zone)
    if isinstance(node, ast.Between) and isinstance(node.low, ast.DATE_LITERALS) \
            and isinstance(node.high, ast.DATE_LITERALS):
        return temporal.between_interval(node.low, node.high, now, zone)
    if isinstance(node, ast.Compare) and isinstance(node.value, ast.DATE_LITERALS):
        if node.op is ast.CompareOp.NOT_EQUALS:
            return temporal.equals_interval(node.value, now, zone)
        if node.op in (ast.CompareOp.EQUALS, ast.CompareOp.BEFORE, ast.CompareOp.AFTER):
            return temporal.compare_interval(node.op, node.value, now, zone)
    return None


def _bounds(interval: temporal.Interval | None) -> dict:
    if interval is None:
        return {}
    return {"window_start": interval.lower, "window_start_inclusive": interval.lower_inclusive,
            "window_end": interval.upper, "window_end_inclusive": interval.upper_inclusive}


def show_value(value: object) -> str:
    """A stored value as SegmentQL writes it; "no value" for none."""
    if value is None:
        return "no value"
    if value == "" and isinstance(value, str):
        return '"" (empty: no value)'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return format_expression(ast.String(value))
    if isinstance(value, (int, float)):
        return format_expression(ast.Number(value))
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return format_expression(ast.Timestamp(moment))
    return repr(value)
