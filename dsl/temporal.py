"""Time in SegmentQL: date literals and windows resolved against an explicit `now`.

Every date condition and event window becomes an `Interval` of instants, and both the
compiler and the reference evaluator read the same `Interval`: one meaning, computed once.
A day (`2024-05-01`, `today`, `3 days ago`) stands for its whole UTC calendar day;
a timestamp or `N hours ago` is an instant.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from dsl import ast
from dsl.values import to_millis

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Interval:
    """Instants between `lower` and `upper`; a None bound is open."""

    lower: dt.datetime | None = None
    lower_inclusive: bool = True
    upper: dt.datetime | None = None
    upper_inclusive: bool = True

    def contains(self, moment: dt.datetime) -> bool:
        if self.lower is not None:
            if moment < self.lower or (moment == self.lower and not self.lower_inclusive):
                return False
        if self.upper is not None:
            if moment > self.upper or (moment == self.upper and not self.upper_inclusive):
                return False
        return True


def normalize_now(now: dt.datetime) -> dt.datetime:
    """The evaluation time: aware UTC, cut to milliseconds like every stored time. The
    language never reads the clock: the edge that evaluates supplies `now`."""
    if now is None:
        raise ValueError("the evaluation time `now` must be given")
    return to_millis(now)


def minus(now: dt.datetime, amount: int, unit: ast.Unit) -> dt.datetime:
    """`now` moved back by amount units; months are calendar months (Mar 31 - 1 month = Feb 29)."""
    if unit is ast.Unit.HOURS:
        return now - dt.timedelta(hours=amount)
    if unit is ast.Unit.DAYS:
        return now - dt.timedelta(days=amount)
    if unit is ast.Unit.WEEKS:
        return now - dt.timedelta(weeks=amount)
    months = now.year * 12 + (now.month - 1) - amount
    year, month = divmod(months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def resolve(literal: ast.DateLiteral, now: dt.datetime) -> dt.date | dt.datetime:
    """A calendar day (dt.date) or an instant (dt.datetime)."""
    if isinstance(literal, ast.Day):
        return literal.value
    if isinstance(literal, ast.Timestamp):
        return literal.value
    if isinstance(literal, ast.Today):
        return now.date()
    if literal.unit is ast.Unit.HOURS:
        return minus(now, literal.amount, literal.unit)
    return minus(now, literal.amount, literal.unit).date()


def _is_day(moment: dt.date | dt.datetime) -> bool:
    return not isinstance(moment, dt.datetime)


def start_of(moment: dt.date | dt.datetime) -> tuple[dt.datetime, bool]:
    """The lower bound `moment` gives: the start of a day, or the instant; inclusive."""
    return (_day_start(moment), True) if _is_day(moment) else (moment, True)


def end_of(moment: dt.date | dt.datetime) -> tuple[dt.datetime, bool]:
    """The upper bound `moment` gives: the start of the next day (exclusive), or the instant
    (inclusive)."""
    if _is_day(moment):
        return _day_start(moment + dt.timedelta(days=1)), False
    return moment, True


def equals_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    moment = resolve(literal, now)
    return Interval(*start_of(moment), *end_of(moment))


def before_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Earlier than the day (or instant)."""
    lower, _ = start_of(resolve(literal, now))
    return Interval(upper=lower, upper_inclusive=False)


def after_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Later than the day (or instant)."""
    moment = resolve(literal, now)
    if _is_day(moment):
        return Interval(lower=end_of(moment)[0], lower_inclusive=True)
    return Interval(lower=moment, lower_inclusive=False)


def since_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    return Interval(*start_of(resolve(literal, now)))


def between_interval(low: ast.DateLiteral, high: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Both ends included (whole days for days)."""
    return Interval(*start_of(resolve(low, now)), *end_of(resolve(high, now)))


def last_interval(amount: int, unit: ast.Unit, now: dt.datetime) -> Interval:
    """`in last N units`: now - N units <= time <= now."""
    return Interval(minus(now, amount, unit), True, now, True)


def window_interval(window: ast.Window | None, now: dt.datetime) -> Interval:
    if window is None:
        return Interval()
    if isinstance(window, ast.LastWindow):
        return last_interval(window.amount, window.unit, now)
    if isinstance(window, ast.SinceWindow):
        return since_interval(window.start, now)
    if isinstance(window, ast.BeforeWindow):
        return before_interval(window.end, now)
    return between_interval(window.start, window.end, now)


def compare_interval(op: ast.CompareOp, literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    """The positive date comparisons (equals, before, after) as intervals."""
    if op is ast.CompareOp.EQUALS:
        return equals_interval(literal, now)
    if op is ast.CompareOp.BEFORE:
        return before_interval(literal, now)
    if op is ast.CompareOp.AFTER:
        return after_interval(literal, now)
    raise ValueError(f"{op.value} is not a date comparison")
