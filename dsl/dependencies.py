"""What an expression reads: the data whose change can change its answer (pure).

Live maintenance re-evaluates a written contact only against the segments that read what
the write touched: a field, an event type or a list. `in segment` must have been inlined
first (the referenced definition is what is read).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from dsl import ast
from dsl.consent import ADDRESS_FIELDS, CONSENT_EVENT_TYPES
from dsl.evaluator import same_for_counts_up_to
from dsl.next_change import is_time_dependent
from dsl.temporal import UTC, Zone, window_interval

# A contact write that changes consent touches this name (store/contacts.py), as a field
# write touches the field's; the events that set consent or suppression are read too.
CONSENT_FIELD = "consent"


@dataclass(frozen=True)
class Reads:
    fields: frozenset[str]
    event_types: frozenset[str]
    lists: frozenset[str]
    time_dependent: bool
    # event types read through `in last N units`: the summary answers only while the
    # contact has no event later than `now`
    event_types_in_last: frozenset[str] = frozenset()
    # the event conditions that need the events themselves (a `where`, a `between` window,
    # or a count within a window): a contact with n events of the type (its summary's
    # count) for whom every count 0..n answers alike needs none read (`at least 5 times in
    # last 90 days` with 3 events is false whatever they are)
    counted_in_full: frozenset[ast.EventCondition] = frozenset()
    # event types whose events are read whatever their count (a sum, average, ...)
    event_types_summed: frozenset[str] = frozenset()
    # the `in last` windows over each event type, and the types read otherwise (no window,
    # since / before / between, first / last time, consent): see `event_matters`
    last_windows: frozenset[tuple[str, ast.LastWindow]] = frozenset()
    event_types_unwindowed: frozenset[str] = frozenset()

    @cached_property
    def event_types_in_full(self) -> frozenset[str]:
        """The event types whose conditions may need the events themselves; for the others
        the contact's summary (count, first, last) answers: see `summary_events`."""
        return self.event_types_summed | {node.event_type for node in self.counted_in_full}

    def event_matters(self, event_type: str, time: dt.datetime, now: dt.datetime,
                      zone: Zone = UTC) -> bool:
        """Can a new event of this type at `time` change the answer, at `now` or later?
        Not when every condition on its type looks only at an `in last` window the event
        is before: windows only move on."""
        if event_type not in self.event_types:
            return False
        if event_type in self.event_types_unwindowed or time > now:
            return True
        return any(window_interval(window, now, zone).contains(time)
                   for read_type, window in self.last_windows if read_type == event_type)

    def events_needed(self, event_type: str, count: int, last: dt.datetime | None = None,
                      now: dt.datetime | None = None, zone: Zone = UTC) -> bool:
        """Must a contact's events of a type in full be read to answer, given its summary's
        `count` and `last` (at `now`)? Not when each condition needing them answers alike
        for every count the contact can have in its window: up to `count`, or none at all
        when its last event is before an `in last` window (which only moves on)."""
        if event_type in self.event_types_summed:
            return True
        for node in self.counted_in_full:
            if node.event_type != event_type:
                continue
            within = count
            if (isinstance(node.window, ast.LastWindow) and last is not None
                    and now is not None and last <= now
                    and not window_interval(node.window, now, zone).contains(last)):
                within = 0
            if not same_for_counts_up_to(node, within):
                return True
        return False

    def touched_by(self, *, fields=(), event_types=(), lists=()) -> bool:
        return (not self.fields.isdisjoint(fields) or not self.event_types.isdisjoint(event_types)
                or not self.lists.isdisjoint(lists))


@dataclass
class _Found:
    """What the walk of `reads` has found so far, and the nodes still to visit."""

    pending: list[ast.Expression]
    fields: set[str] = field(default_factory=set)
    event_types: set[str] = field(default_factory=set)
    in_last: set[str] = field(default_factory=set)
    counted: set[ast.EventCondition] = field(default_factory=set)
    summed: set[str] = field(default_factory=set)
    last_windows: set[tuple[str, ast.LastWindow]] = field(default_factory=set)
    unwindowed: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)

    def windowed(self, event_type: str, window: ast.Window | None) -> None:
        if isinstance(window, ast.LastWindow):
            self.last_windows.add((event_type, window))
        else:
            self.unwindowed.add(event_type)


def reads(expr: ast.Expression) -> Reads:
    found = _Found([expr])
    while found.pending:  # a stack, not recursion: trees can be deep
        node = found.pending.pop()
        ast.dispatch(_READS, node, "find what reads")(node, found)
    return Reads(frozenset(found.fields), frozenset(found.event_types), frozenset(found.lists),
                 is_time_dependent(expr), event_types_in_last=frozenset(found.in_last),
                 counted_in_full=frozenset(found.counted),
                 event_types_summed=frozenset(found.summed),
                 last_windows=frozenset(found.last_windows),
                 event_types_unwindowed=frozenset(found.unwindowed))


def _group(node: ast.And | ast.Or, found: _Found) -> None:
    found.pending.extend(node.operands)


def _negation(node: ast.Not, found: _Found) -> None:
    found.pending.append(node.operand)


def _nothing(node: ast.MatchAll, found: _Found) -> None:
    pass


def _event(node: ast.EventCondition, found: _Found) -> None:
    # An event's `where` reads the events' attributes, not the contact's fields.
    found.event_types.add(node.event_type)
    found.windowed(node.event_type, node.window)
    if (node.where is not None or isinstance(node.window, ast.BetweenWindow)
            or (node.count is not None and node.window is not None)):
        found.counted.add(node)
    elif isinstance(node.window, ast.LastWindow):
        found.in_last.add(node.event_type)


def _total(node: ast.EventTotal, found: _Found) -> None:
    # sums attribute values: the events themselves
    found.event_types.add(node.event_type)
    found.windowed(node.event_type, node.window)
    found.summed.add(node.event_type)


def _event_time(node: ast.EventTime, found: _Found) -> None:
    found.event_types.add(node.event_type)  # first / last: the summary answers
    found.unwindowed.add(node.event_type)


def _can_receive(node: ast.CanReceive, found: _Found) -> None:
    # the address field, consent and suppression
    address = ADDRESS_FIELDS.get(node.channel.value)
    found.fields.update({CONSENT_FIELD} | ({address} if address else set()))
    found.event_types.update(CONSENT_EVENT_TYPES)
    found.unwindowed.update(CONSENT_EVENT_TYPES)


def _in_list(node: ast.InList, found: _Found) -> None:
    found.lists.add(node.name)


def _in_segment(node: ast.InSegment, found: _Found) -> None:
    raise ValueError(f"in segment {node.ref!r} must be inlined first")


def _field_condition(node: ast.FieldCondition, found: _Found) -> None:
    found.fields.add(node.field)


_READS = {ast.And: _group, ast.Or: _group, ast.Not: _negation, ast.MatchAll: _nothing,
          ast.EventCondition: _event, ast.EventTotal: _total, ast.EventTime: _event_time,
          ast.CanReceive: _can_receive, ast.InList: _in_list, ast.InSegment: _in_segment,
          **dict.fromkeys(ast.FIELD_CONDITIONS, _field_condition)}


def summary_events(event_type: str, summary: dict) -> list[dict]:
    """Events standing in for a contact's events of one type, from its summary `{count,
    first, last}`: `count` events, the first at `first`, the others at `last`. For the
    conditions that need no events themselves (no `where`, no `between` window, no count
    within a window) they give the same answers and the same next changes as the real
    events, provided, for `in last` windows, that no event is later than `now`: whether
    some event is in `in last`/`since` comes down to `last`, in `before` to `first`, and a
    count without a window to `count`."""
    count = summary.get("count") or 0
    if not count:
        return []
    first = {"type": event_type, "time": summary["first"], "attributes": {}}
    return [first] + [{"type": event_type, "time": summary["last"], "attributes": {}}
                      for _ in range(count - 1)]
