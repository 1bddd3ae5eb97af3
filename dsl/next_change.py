"""When could a contact's answer change with no new data? (pure: `now` is passed in)

An expression's answer for one contact moves with time only where a bound of an interval
moves with `now` (dsl/temporal.py): the edges of `in last N units` windows and of `in last`
field conditions, and the days `today` and `N days/weeks/months ago` stand for. Such a
bound is a function b(now); a comparison of a stored instant v (a date field, an event's
time, a date attribute) against it can flip only when b(now) reaches v or v + 1 ms (every
stored time and every `now` is cut to milliseconds, so "passes v" is "reaches v + 1 ms").

`next_change` returns the earliest instant > now at which some bound reaches such a
threshold: never later than the first real flip, possibly earlier (re-evaluating early is
harmless; the re-evaluation computes the next candidate). Absolute dates give fixed bounds:
they never move, so they never make a change by themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dsl import ast, temporal
from dsl.evaluator import evaluate, matching_events, same_for_counts_up_to, time_of

UTC = dt.timezone.utc
_MS = dt.timedelta(milliseconds=1)
_DAY = dt.timedelta(days=1)
# Going back N calendar months goes back at least 28 N days (clamping the day only adds).
_MONTH_MIN_DAYS = 28


@dataclass(frozen=True)
class _Shift:
    """b(now) = now - delta (`in last N hours/days/weeks`, `N hours ago`, a window's `now`)."""

    delta: dt.timedelta
    # which thresholds matter, in ms after the stored instant: an inclusive upper bound
    # (`time <= now`) flips when it reaches v, an inclusive lower bound when it passes v
    offsets: tuple[int, ...] = (0, 1)


@dataclass(frozen=True)
class _MonthShift:
    """b(now) = now - N calendar months: slope 1 within a day, a jump (< 1 day back) at
    some midnights where the day of month is clamped."""

    months: int


@dataclass(frozen=True)
class _DayStep:
    """b(now) = the start of the day `today` / `N units ago` resolves to, plus `extra` days
    (the exclusive end of that day is the next day's start); it steps at midnights."""

    amount: int
    unit: ast.Unit
    extra: int


_Bound = _Shift | _MonthShift | _DayStep


def _duration(amount: int, unit: ast.Unit) -> dt.timedelta:
    if unit is ast.Unit.HOURS:
        return dt.timedelta(hours=amount)
    if unit is ast.Unit.DAYS:
        return dt.timedelta(days=amount)
    return dt.timedelta(weeks=amount)


def _last_bounds(amount: int, unit: ast.Unit) -> list[_Bound]:
    lower = (_MonthShift(amount) if unit is ast.Unit.MONTHS
             else _Shift(_duration(amount, unit), (1,)))
    return [_Shift(dt.timedelta(0), (0,)), lower]


def _literal_bounds(literal: ast.Literal) -> list[_Bound]:
    if isinstance(literal, ast.Today):
        return [_DayStep(0, ast.Unit.DAYS, 0), _DayStep(0, ast.Unit.DAYS, 1)]
    if isinstance(literal, ast.Ago):
        if literal.unit is ast.Unit.HOURS:
            return [_Shift(dt.timedelta(hours=literal.amount))]
        return [_DayStep(literal.amount, literal.unit, 0), _DayStep(literal.amount, literal.unit, 1)]
    return []  # strings, numbers, absolute days and timestamps never move


def _condition_bounds(node: ast.FieldCondition) -> list[_Bound]:
    """The moving bounds of a field condition (on a field, an attribute or an event time)."""
    return ast.dispatch(_FIELD_BOUNDS, node, "find the moving bounds of")(node)


_FIELD_BOUNDS = {
    ast.InLast: lambda node: _last_bounds(node.amount, node.unit),
    ast.Compare: lambda node: _literal_bounds(node.value),
    ast.Between: lambda node: _literal_bounds(node.low) + _literal_bounds(node.high),
    ast.InValues: lambda node: [bound for literal in node.values
                                for bound in _literal_bounds(literal)],
    ast.HasValue: lambda node: [],
    ast.IsBool: lambda node: [],
}


def window_bounds(window: ast.Window | None) -> list[_Bound]:
    if window is None:
        return []
    if isinstance(window, ast.LastWindow):
        return _last_bounds(window.amount, window.unit)
    if isinstance(window, ast.SinceWindow):
        return _literal_bounds(window.start)
    if isinstance(window, ast.BeforeWindow):
        return _literal_bounds(window.end)
    return _literal_bounds(window.start) + _literal_bounds(window.end)


def is_time_dependent(node: ast.Expression) -> bool:
    """Does any bound of `node` (event `where` included) move with `now`?"""
    return any(ast.dispatch(_MOVES, part, "find the moving bounds of")(part)
               for part in ast.walk(node))


def _never(node: ast.Expression) -> bool:
    return False  # its answer moves only with its parts (visited by the walk) or with data


# Does the node itself (not its parts) have a bound that moves with `now`?
_MOVES = {ast.And: _never, ast.Or: _never, ast.Not: _never, ast.MatchAll: _never,
          ast.InList: _never, ast.InSegment: _never, ast.CanReceive: _never,
          ast.EventCondition: lambda node: bool(window_bounds(node.window)),
          ast.EventTotal: lambda node: bool(window_bounds(node.window)),
          ast.EventTime: lambda node: bool(_condition_bounds(node.test)),
          **dict.fromkeys(ast.FIELD_CONDITIONS, lambda node: bool(_condition_bounds(node)))}


def _next_midnight(now: dt.datetime) -> dt.datetime:
    return dt.datetime(now.year, now.month, now.day, tzinfo=UTC) + _DAY


def _ceil_day(moment: dt.datetime) -> dt.date:
    """The first day whose start is at or after `moment`."""
    day = moment.date()
    return day if moment == dt.datetime(day.year, day.month, day.day, tzinfo=UTC) else day + _DAY


def _reaches(bound: _Bound, threshold: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The earliest instant > now at which b reaches `threshold` (or an earlier instant > now
    to look again at); None when b has passed it for good."""
    if isinstance(bound, _Shift):
        if now - bound.delta >= threshold:
            return None
        return threshold + bound.delta
    if isinstance(bound, _MonthShift):
        current = temporal.minus(now, bound.months, ast.Unit.MONTHS)
        if current >= threshold + _DAY:  # later jumps go back less than a day
            return None
        earliest = threshold + dt.timedelta(days=_MONTH_MIN_DAYS * bound.months)
        if earliest > now:
            return earliest
        midnight = _next_midnight(now)
        within_day = threshold + (now - current)  # slope 1 until midnight
        return within_day if now < within_day < midnight else midnight
    # a day step: b(now) >= threshold  <=>  resolved day >= the day starting at or after
    # threshold - extra days
    day = _ceil_day(threshold - dt.timedelta(days=bound.extra))
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    if bound.unit is ast.Unit.MONTHS:
        if temporal.minus(now, bound.amount, bound.unit).date() >= day:
            return None
        earliest = start + dt.timedelta(days=_MONTH_MIN_DAYS * bound.amount)
        return earliest if earliest > now else _next_midnight(now)
    at = start + _duration(bound.amount, bound.unit)
    return at if at > now else None


def _earliest(bounds: Iterable[_Bound], values: Iterable[object],
              now: dt.datetime) -> dt.datetime | None:
    bounds = list(bounds)
    found = None
    for value in values:
        if not isinstance(value, dt.datetime):
            continue
        for bound in bounds:
            offsets = bound.offsets if isinstance(bound, _Shift) else (0, 1)
            for offset in offsets:
                at = _reaches(bound, value + offset * _MS, now)
                if at is not None and (found is None or at < found):
                    found = at
    return found


@dataclass
class _Search:
    """One contact's data and the candidates `next_change` has found so far."""

    contact: Mapping
    fields: Mapping
    events: list[Mapping]
    by_type: Mapping[str, list[Mapping]]
    now: dt.datetime
    zone: temporal.Zone
    pending: list[ast.Expression]
    candidates: list[dt.datetime] = field(default_factory=list)

    def consider(self, bounds: list[_Bound], values: Iterable[object]) -> None:
        if bounds:
            at = _earliest(bounds, values, self.now)
            if at is not None:
                self.candidates.append(at)


def next_change(expr: ast.Expression, contact: Mapping, events: Iterable[Mapping],
                now: dt.datetime, zone: temporal.Zone = UTC) -> dt.datetime | None:
    """The earliest instant > now at which `expr`'s answer for `contact` (with its `events`,
    in the evaluator's shape) could change with no new data; None when it never can.
    `in segment` must have been inlined first."""
    events = list(events)  # read twice: by type here, and by the evaluator (settled and/or)
    by_type: dict[str, list[Mapping]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    search = _Search(contact, contact.get("fields") or {}, events, by_type,
                     temporal.normalize_now(now), zone, [expr])
    while search.pending:  # a stack, not recursion: trees can be deep
        node = search.pending.pop()
        ast.dispatch(_CHANGES, node, "find the next change of")(node, search)
    candidates = search.candidates
    if candidates and zone is not UTC:
        # Day rules count the zone's days: re-evaluating at each of its midnights is never
        # later than a day-based change (the candidates above count UTC days).
        candidates.append(temporal.next_day_start(search.now, zone))
    return min(candidates) if candidates else None


def _group_changes(node: ast.And | ast.Or, search: _Search) -> None:
    # an operand whose answer cannot move with time and that already decides the whole
    # (false in an `and`, true in an `or`) settles it: nothing under it matters (fewer
    # pairs to keep and to sweep)
    decides = isinstance(node, ast.Or)
    if not any(_settled(operand, search)
               and bool(evaluate(operand, search.contact, search.events, search.now,
                                 zone=search.zone)) == decides
               for operand in node.operands):
        search.pending.extend(node.operands)


def _settled(node: ast.Expression, search: _Search) -> bool:
    """Can time alone never change this operand's answer for the contact?"""
    while isinstance(node, ast.Not):
        node = node.operand
    if isinstance(node, ast.EventCondition):
        return _count_settled(node, search)
    return not is_time_dependent(node)


def _count_settled(node: ast.EventCondition, search: _Search) -> bool:
    """An `in last` window's count can only fall as time passes when no event of the type
    is later than now (none can enter) and the `where` does not move: then the answer is
    settled when no lower count gives another answer (`at least 2` with one event in the
    window stays false; `did not occur` and `at most N` stay true)."""
    if not window_bounds(node.window):
        return not is_time_dependent(node)
    if not isinstance(node.window, ast.LastWindow) or (
            node.where is not None and is_time_dependent(node.where)):
        return False
    of_type = search.by_type.get(node.event_type, ())
    if any(event["time"] > search.now for event in of_type):
        return False
    return same_for_counts_up_to(
        node, len(matching_events(node, search.by_type, search.now, search.zone)))


def _negation_changes(node: ast.Not, search: _Search) -> None:
    search.pending.append(node.operand)


def _no_changes(node: ast.Expression, search: _Search) -> None:
    pass  # no bound moves with `now` (an `in segment` is inlined before)


def _time_changes(node: ast.EventTime, search: _Search) -> None:
    # a date condition on the first / last time
    search.consider(_condition_bounds(node.test), [time_of(node, search.by_type)])


def _event_changes(node: ast.EventCondition | ast.EventTotal, search: _Search) -> None:
    # a total changes when an event enters or leaves its window, as a count does
    if isinstance(node, ast.EventCondition) and _count_settled(node, search):
        return
    of_type = search.by_type.get(node.event_type, ())
    search.consider(window_bounds(node.window), (event["time"] for event in of_type))
    if node.where is not None:
        for part in ast.walk(node.where):
            bounds = ast.dispatch(_WHERE_BOUNDS, part, "find the moving bounds of")(part)
            if bounds:  # a field condition: on the events' attribute
                search.consider(bounds, [(event.get("attributes") or {}).get(part.field)
                                         for event in of_type])


def _field_changes(node: ast.FieldCondition, search: _Search) -> None:
    search.consider(_condition_bounds(node), [search.fields.get(node.field)])


_CHANGES = {ast.And: _group_changes, ast.Or: _group_changes, ast.Not: _negation_changes,
            ast.MatchAll: _no_changes, ast.InList: _no_changes, ast.InSegment: _no_changes,
            ast.CanReceive: _no_changes, ast.EventTime: _time_changes,
            ast.EventCondition: _event_changes, ast.EventTotal: _event_changes,
            **dict.fromkeys(ast.FIELD_CONDITIONS, _field_changes)}
# What an event's `where` can hold: attribute conditions joined by and / or / not (whose
# parts the walk visits).
_WHERE_BOUNDS = {ast.And: lambda node: [], ast.Or: lambda node: [], ast.Not: lambda node: [],
                 **_FIELD_BOUNDS}
