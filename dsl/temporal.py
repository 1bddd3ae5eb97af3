"""Time in SegmentQL: date literals and windows resolved against an explicit `now`.

Every date condition and event window becomes an `Interval` of instants, and both the
compiler and the reference evaluator read the same `Interval`: one meaning, computed once.
A day (`2024-05-01`, `today`, `3 days ago`) stands for its whole calendar day in the
profile database's time zone (`zone`, default UTC), which can be 23 or 25 hours long;
a timestamp or `N hours ago` is an instant. `in last N hours/days/weeks` is an exact
duration; `in last N months` and `N months ago` count calendar months in the zone.

`_day_start_ms` is the one place where a calendar day becomes an instant.

The calendar's ends: Python dates (and so every stored time) run from year 1 to year 9999,
but a bound computed from them need not (the day after 9999-12-31, 100 years before a `now`
in year 50, a zone's midnight before 0001-01-01T00:00Z). Bounds are therefore computed as
whole milliseconds since FIRST (unbounded ints; days as ordinals) and only then made
datetimes, a bound beyond either end meaning "before every time" or "after every time"
(see `_interval`). No date the language accepts can overflow on any path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from dsl import ast
from dsl.errors import SegmentTypeError
from dsl.values import to_millis

UTC = dt.timezone.utc
Zone = dt.tzinfo
DayOrWall = TypeVar("DayOrWall", dt.date, dt.datetime)


def zone_of(name: str | None) -> Zone:
    """The time zone of an IANA name (None or "UTC": UTC); SegmentTypeError for an unknown
    name."""
    if name is None or name == "UTC":
        return UTC
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name \
            or name.startswith("/"):
        raise SegmentTypeError(f"{name!r} is not a time zone",
                               suggestion="use an IANA name such as Europe/Warsaw")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SegmentTypeError(f"{name!r} is not a known time zone",
                               suggestion="use an IANA name such as Europe/Warsaw, "
                                          "America/New_York or UTC") from None


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


FIRST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)  # the last stored millisecond
_DAY_MS = 86_400_000
_LAST_MS = (LAST - FIRST) // dt.timedelta(milliseconds=1)
_LAST_DAY = dt.date.max.toordinal()
_UNIT_MS = {ast.Unit.HOURS: 3_600_000, ast.Unit.DAYS: _DAY_MS, ast.Unit.WEEKS: 7 * _DAY_MS}


@dataclass(frozen=True)
class _Moment:
    """A resolved date literal: a whole local day (`value` its ordinal, as
    `date.toordinal`) or an instant (`value` in milliseconds since FIRST); either may lie
    beyond the calendar."""

    value: int
    day: bool


def _ms(moment: dt.datetime) -> int:
    return (moment - FIRST) // dt.timedelta(milliseconds=1)


def _offset_ms(zone: Zone, wall: dt.datetime) -> int:
    """The zone's UTC offset at a local wall time (naive), in milliseconds. In a
    daylight-saving gap zoneinfo reads the missing wall time with the offset before the
    change, which lands on the change itself: a day starting in a gap starts there."""
    offset = zone.utcoffset(wall)
    return 0 if offset is None else offset // dt.timedelta(milliseconds=1)


def _day_start_ms(ordinal: int, zone: Zone) -> int:
    """The first instant of a local calendar day (by ordinal), in ms since FIRST."""
    edge = min(max(ordinal, 1), _LAST_DAY)  # beyond the calendar: the edge day's offset
    return (ordinal - 1) * _DAY_MS - _offset_ms(zone, dt.datetime.fromordinal(edge))


def _wall_ms(now: dt.datetime, zone: Zone) -> int:
    """`now`'s wall-clock time in `zone`, in ms since FIRST (unbounded)."""
    try:
        offset = now.astimezone(zone).utcoffset()
    except OverflowError:  # the wall time leaves the calendar: the offset there will do
        offset = zone.utcoffset(now.replace(tzinfo=None))
    return _ms(now) + (0 if offset is None else offset // dt.timedelta(milliseconds=1))


def _wall(ms: int) -> dt.datetime:
    """A naive wall time from ms since FIRST, clamped into the calendar."""
    return (FIRST + dt.timedelta(milliseconds=min(max(ms, 0), _LAST_MS))).replace(tzinfo=None)


def _months_back(moment: DayOrWall, amount: int) -> DayOrWall | None:
    """`moment` (a date, or a naive wall time) `amount` calendar months earlier, the day
    clamped to the month's length (Mar 31 - 1 month = Feb 29); None before year 1, where no
    Python date reaches (the callers read that as "before every time")."""
    try:
        return moment - relativedelta(months=amount)
    except ValueError:  # relativedelta computed a year below 1
        return None


def _today(now: dt.datetime, zone: Zone) -> int:
    """The ordinal of the local calendar day `now` falls on."""
    return _wall_ms(now, zone) // _DAY_MS + 1


def _minus_ms(now: dt.datetime, amount: int, unit: ast.Unit, zone: Zone) -> int:
    """`now` moved back by amount units, in ms since FIRST: hours, days and weeks exactly;
    months are calendar months in `zone`, the wall time kept."""
    if unit in _UNIT_MS:
        return _ms(now) - amount * _UNIT_MS[unit]
    local = _months_back(_wall(_wall_ms(now, zone)), amount)
    if local is None:  # before the calendar: a whole year below it says so
        return -366 * _DAY_MS
    return _ms(local.replace(tzinfo=UTC)) - _offset_ms(zone, local)


def _resolve(literal: ast.DateLiteral, now: dt.datetime, zone: Zone) -> _Moment:
    if isinstance(literal, ast.Day):
        return _Moment(literal.value.toordinal(), True)
    if isinstance(literal, ast.Timestamp):
        return _Moment(_ms(literal.value), False)
    today = _today(now, zone)
    if isinstance(literal, ast.Today):
        return _Moment(today, True)
    if literal.unit is ast.Unit.HOURS:
        return _Moment(_ms(now) - literal.amount * _UNIT_MS[ast.Unit.HOURS], False)
    if literal.unit is ast.Unit.DAYS:
        return _Moment(today - literal.amount, True)
    if literal.unit is ast.Unit.WEEKS:
        return _Moment(today - 7 * literal.amount, True)
    day = dt.date.fromordinal(min(max(today, 1), _LAST_DAY))
    moved = _months_back(day, literal.amount)
    return _Moment(moved.toordinal() if moved is not None else -366, True)


def next_day_start(now: dt.datetime, zone: Zone = UTC) -> dt.datetime:
    """The first instant after `now` at which a new calendar day starts in `zone`."""
    return FIRST + dt.timedelta(milliseconds=min(_day_start_ms(_today(now, zone) + 1, zone),
                                                 _LAST_MS))


def minus(now: dt.datetime, amount: int, unit: ast.Unit, zone: Zone = UTC) -> dt.datetime:
    """`now` moved back by amount units (see `_minus_ms`). Raises OverflowError when that
    is before year 1 (the intervals below never do)."""
    moved = _minus_ms(now, amount, unit, zone)
    if moved < 0:
        raise OverflowError(f"{amount} {unit.value} before {now.isoformat()} is before year 1")
    return FIRST + dt.timedelta(milliseconds=moved)


def resolve(literal: ast.DateLiteral, now: dt.datetime,
            zone: Zone = UTC) -> dt.date | dt.datetime:
    """A calendar day (dt.date, in `zone`) or an instant (dt.datetime); OverflowError beyond
    years 1..9999."""
    moment = _resolve(literal, now, zone)
    if moment.day:
        if not 1 <= moment.value <= _LAST_DAY:
            raise OverflowError("the date is outside years 1 to 9999")
        return dt.date.fromordinal(moment.value)
    if not 0 <= moment.value <= _LAST_MS:
        raise OverflowError("the date is outside years 1 to 9999")
    return FIRST + dt.timedelta(milliseconds=moment.value)


def _start(moment: _Moment, zone: Zone) -> tuple[int, bool]:
    """The lower bound `moment` gives: the start of its day, or the instant; inclusive."""
    return (_day_start_ms(moment.value, zone) if moment.day else moment.value), True


def _end(moment: _Moment, zone: Zone) -> tuple[int, bool]:
    """The upper bound `moment` gives: the start of the next day (exclusive), or the
    instant (inclusive)."""
    if moment.day:
        return _day_start_ms(moment.value + 1, zone), False
    return moment.value, True


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


def equals_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    moment = _resolve(literal, now, zone)
    return _interval(_start(moment, zone), _end(moment, zone))


def before_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """Earlier than the day (or instant)."""
    return _interval(upper=(_start(_resolve(literal, now, zone), zone)[0], False))


def after_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """Later than the day (or instant)."""
    moment = _resolve(literal, now, zone)
    if moment.day:
        return _interval(lower=(_end(moment, zone)[0], True))
    return _interval(lower=(moment.value, False))


def since_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    return _interval(_start(_resolve(literal, now, zone), zone))


def between_interval(low: ast.DateLiteral, high: ast.DateLiteral, now: dt.datetime,
                     zone: Zone = UTC) -> Interval:
    """Both ends included (whole days for days)."""
    return _interval(_start(_resolve(low, now, zone), zone),
                     _end(_resolve(high, now, zone), zone))


def last_interval(amount: int, unit: ast.Unit, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """`in last N units`: now - N units <= time <= now."""
    return _interval((_minus_ms(now, amount, unit, zone), True), (_ms(now), True))


def window_interval(window: ast.Window | None, now: dt.datetime, zone: Zone = UTC) -> Interval:
    if window is None:
        return Interval()
    if isinstance(window, ast.LastWindow):
        return last_interval(window.amount, window.unit, now, zone)
    if isinstance(window, ast.SinceWindow):
        return since_interval(window.start, now, zone)
    if isinstance(window, ast.BeforeWindow):
        return before_interval(window.end, now, zone)
    return between_interval(window.start, window.end, now, zone)


def compare_interval(op: ast.CompareOp, literal: ast.DateLiteral, now: dt.datetime,
                     zone: Zone = UTC) -> Interval:
    """The positive date comparisons (equals, before, after) as intervals."""
    if op is ast.CompareOp.EQUALS:
        return equals_interval(literal, now, zone)
    if op is ast.CompareOp.BEFORE:
        return before_interval(literal, now, zone)
    if op is ast.CompareOp.AFTER:
        return after_interval(literal, now, zone)
    raise ValueError(f"{op.value} is not a date comparison")
