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


def normalize_now(now: dt.datetime | None) -> dt.datetime:
    """The evaluation time: aware UTC, cut to milliseconds like every stored time."""
    return to_millis(now if now is not None else dt.datetime.now(UTC))


# The calendar's ends. Python dates (and so every stored time) run from year 1 to year 9999,
# but a bound computed from them need not: the day after 9999-12-31 or 100 years before a
# `now` in year 50. Bounds are therefore computed as whole milliseconds since FIRST (an
# unbounded int) and only then made datetimes, a bound beyond either end meaning "before
# every time" or "after every time" (see `_interval`). No date the language accepts can
# overflow on any path.
FIRST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)  # the last stored millisecond
_DAY_MS = 86_400_000
_LAST_MS = (LAST - FIRST) // dt.timedelta(milliseconds=1)
_UNIT_MS = {ast.Unit.HOURS: 3_600_000, ast.Unit.DAYS: _DAY_MS, ast.Unit.WEEKS: 7 * _DAY_MS}


@dataclass(frozen=True)
class _Moment:
    """A resolved date literal: a whole day (`day`) or an instant, as milliseconds since
    FIRST; either may lie beyond the calendar."""

    ms: int
    day: bool


def _ms(moment: dt.datetime) -> int:
    return (moment - FIRST) // dt.timedelta(milliseconds=1)


def _minus_ms(now: dt.datetime, amount: int, unit: ast.Unit) -> int:
    if unit in _UNIT_MS:
        return _ms(now) - amount * _UNIT_MS[unit]
    months = now.year * 12 + (now.month - 1) - amount
    year, month = divmod(months, 12)
    if year < 1:  # before the calendar: any value below 0 (a whole day below) says so
        return (year - 1) * 366 * _DAY_MS
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return _ms(now.replace(year=year, month=month + 1, day=day))


def minus(now: dt.datetime, amount: int, unit: ast.Unit) -> dt.datetime:
    """`now` moved back by amount units; months are calendar months (Mar 31 - 1 month = Feb 29).
    Raises OverflowError when that is before year 1 (the intervals below never do)."""
    moved = _minus_ms(now, amount, unit)
    if moved < 0:
        raise OverflowError(f"{amount} {unit.value} before {now.isoformat()} is before year 1")
    return FIRST + dt.timedelta(milliseconds=moved)


def _resolve(literal: ast.DateLiteral, now: dt.datetime) -> _Moment:
    if isinstance(literal, ast.Day):
        return _Moment((literal.value.toordinal() - 1) * _DAY_MS, True)
    if isinstance(literal, ast.Timestamp):
        return _Moment(_ms(literal.value), False)
    if isinstance(literal, ast.Today):
        return _Moment(_ms(now) // _DAY_MS * _DAY_MS, True)
    moved = _minus_ms(now, literal.amount, literal.unit)
    if literal.unit is ast.Unit.HOURS:
        return _Moment(moved, False)
    return _Moment(moved // _DAY_MS * _DAY_MS, True)


def resolve(literal: ast.DateLiteral, now: dt.datetime) -> dt.date | dt.datetime:
    """A calendar day (dt.date) or an instant (dt.datetime); OverflowError beyond year 1..9999."""
    moment = _resolve(literal, now)
    if not 0 <= moment.ms <= _LAST_MS:
        raise OverflowError("the date is outside years 1 to 9999")
    value = FIRST + dt.timedelta(milliseconds=moment.ms)
    return value.date() if moment.day else value


def _start(moment: _Moment) -> tuple[int, bool]:
    """The lower bound `moment` gives: the start of its day, or the instant; inclusive."""
    return moment.ms, True


def _end(moment: _Moment) -> tuple[int, bool]:
    """The upper bound `moment` gives: the start of the next day (exclusive), or the
    instant (inclusive)."""
    return (moment.ms + _DAY_MS, False) if moment.day else (moment.ms, True)


def _interval(lower: tuple[int, bool] | None = None,
              upper: tuple[int, bool] | None = None) -> Interval:
    """An Interval from millisecond bounds, clamped to the calendar: a lower bound at or
    before FIRST is no bound, one after LAST leaves nothing (after the last millisecond);
    an upper bound after LAST is no bound, one before FIRST leaves nothing."""
    low, low_inclusive, high, high_inclusive = None, True, None, True
    if lower is not None:
        ms, inclusive = lower
        if ms > _LAST_MS or (ms == _LAST_MS and not inclusive):
            low, low_inclusive = LAST, False
        elif ms > 0 or (ms == 0 and not inclusive):
            low, low_inclusive = FIRST + dt.timedelta(milliseconds=ms), inclusive
    if upper is not None:
        ms, inclusive = upper
        if ms < 0 or (ms == 0 and not inclusive):
            high, high_inclusive = FIRST, False
        elif ms < _LAST_MS or (ms == _LAST_MS and not inclusive):
            high, high_inclusive = FIRST + dt.timedelta(milliseconds=ms), inclusive
    return Interval(low, low_inclusive, high, high_inclusive)


def equals_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    moment = _resolve(literal, now)
    return _interval(_start(moment), _end(moment))


def before_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Earlier than the day (or instant)."""
    return _interval(upper=(_resolve(literal, now).ms, False))


def after_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Later than the day (or instant)."""
    moment = _resolve(literal, now)
    if moment.day:
        return _interval(lower=(_end(moment)[0], True))
    return _interval(lower=(moment.ms, False))


def since_interval(literal: ast.DateLiteral, now: dt.datetime) -> Interval:
    return _interval(_start(_resolve(literal, now)))


def between_interval(low: ast.DateLiteral, high: ast.DateLiteral, now: dt.datetime) -> Interval:
    """Both ends included (whole days for days)."""
    return _interval(_start(_resolve(low, now)), _end(_resolve(high, now)))


def last_interval(amount: int, unit: ast.Unit, now: dt.datetime) -> Interval:
    """`in last N units`: now - N units <= time <= now."""
    return _interval((_minus_ms(now, amount, unit), True), (_ms(now), True))


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
