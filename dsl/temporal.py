"""Time in SegmentQL: date literals and windows resolved against an explicit `now`.

Every date condition and event window becomes an `Interval` of instants, and both the
compiler and the reference evaluator read the same `Interval`: one meaning, computed once.
A day (`2024-05-01`, `today`, `3 days ago`) stands for its whole calendar day in the
profile database's time zone (`zone`, default UTC), which can be 23 or 25 hours long;
a timestamp or `N hours ago` is an instant. `in last N hours/days/weeks` is an exact
duration; `in last N months` and `N months ago` count calendar months in the zone.

`day_start` is the one place where a calendar day becomes an instant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from dsl import ast
from dsl.errors import SegmentTypeError
from dsl.values import to_millis

UTC = dt.timezone.utc
Zone = dt.tzinfo


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


def normalize_now(now: dt.datetime | None) -> dt.datetime:
    """The evaluation time: aware UTC, cut to milliseconds like every stored time."""
    return to_millis(now if now is not None else dt.datetime.now(UTC))


def minus(now: dt.datetime, amount: int, unit: ast.Unit, zone: Zone = UTC) -> dt.datetime:
    """`now` moved back by amount units: hours, days and weeks exactly; months are calendar
    months in `zone` (Mar 31 - 1 month = Feb 29), the wall time kept."""
    if unit is ast.Unit.HOURS:
        return now - dt.timedelta(hours=amount)
    if unit is ast.Unit.DAYS:
        return now - dt.timedelta(days=amount)
    if unit is ast.Unit.WEEKS:
        return now - dt.timedelta(weeks=amount)
    local = now.astimezone(zone).replace(tzinfo=None) - relativedelta(months=amount)
    return local.replace(tzinfo=zone).astimezone(UTC)


def local_day(now: dt.datetime, zone: Zone = UTC) -> dt.date:
    """The calendar day `now` falls on in `zone`."""
    return now.astimezone(zone).date()


def day_start(day: dt.date, zone: Zone = UTC) -> dt.datetime:
    """The first instant (UTC) of a calendar day in `zone`. Where the day starts in a
    daylight-saving gap (no local midnight), it is the instant the day begins."""
    # A missing wall time (a gap) is read with the offset before the change (fold=0), which
    # lands exactly on the change: the day's real first instant.
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def resolve(literal: ast.DateLiteral, now: dt.datetime,
            zone: Zone = UTC) -> dt.date | dt.datetime:
    """A calendar day (dt.date, in `zone`) or an instant (dt.datetime)."""
    if isinstance(literal, ast.Day):
        return literal.value
    if isinstance(literal, ast.Timestamp):
        return literal.value
    today = local_day(now, zone)
    if isinstance(literal, ast.Today):
        return today
    if literal.unit is ast.Unit.HOURS:
        return minus(now, literal.amount, literal.unit)
    if literal.unit is ast.Unit.DAYS:
        return today - dt.timedelta(days=literal.amount)
    if literal.unit is ast.Unit.WEEKS:
        return today - dt.timedelta(weeks=literal.amount)
    return today - relativedelta(months=literal.amount)


def _is_day(moment: dt.date | dt.datetime) -> bool:
    return not isinstance(moment, dt.datetime)


def start_of(moment: dt.date | dt.datetime, zone: Zone = UTC) -> tuple[dt.datetime, bool]:
    """The lower bound `moment` gives: the start of a day, or the instant; inclusive."""
    return (day_start(moment, zone), True) if _is_day(moment) else (moment, True)


def end_of(moment: dt.date | dt.datetime, zone: Zone = UTC) -> tuple[dt.datetime, bool]:
    """The upper bound `moment` gives: the start of the next day (exclusive), or the instant
    (inclusive)."""
    if _is_day(moment):
        return day_start(moment + dt.timedelta(days=1), zone), False
    return moment, True


def equals_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    moment = resolve(literal, now, zone)
    return Interval(*start_of(moment, zone), *end_of(moment, zone))


def before_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """Earlier than the day (or instant)."""
    lower, _ = start_of(resolve(literal, now, zone), zone)
    return Interval(upper=lower, upper_inclusive=False)


def after_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """Later than the day (or instant)."""
    moment = resolve(literal, now, zone)
    if _is_day(moment):
        return Interval(lower=end_of(moment, zone)[0], lower_inclusive=True)
    return Interval(lower=moment, lower_inclusive=False)


def since_interval(literal: ast.DateLiteral, now: dt.datetime, zone: Zone = UTC) -> Interval:
    return Interval(*start_of(resolve(literal, now, zone), zone))


def between_interval(low: ast.DateLiteral, high: ast.DateLiteral, now: dt.datetime,
                     zone: Zone = UTC) -> Interval:
    """Both ends included (whole days for days)."""
    return Interval(*start_of(resolve(low, now, zone), zone),
                    *end_of(resolve(high, now, zone), zone))


def last_interval(amount: int, unit: ast.Unit, now: dt.datetime, zone: Zone = UTC) -> Interval:
    """`in last N units`: now - N units <= time <= now."""
    return Interval(minus(now, amount, unit, zone), True, now, True)


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
