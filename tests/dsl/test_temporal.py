import datetime as dt

import pytest

from dsl import ast, temporal
from dsl.parser import parse

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 3, 31, 15, 30, 0, 250_000, tzinfo=UTC)


def at(*parts):
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("amount, unit, expected", [
    (1, ast.Unit.MONTHS, at(2024, 2, 29, 15, 30, 0, 250_000)),  # clamped to the month's end
    (13, ast.Unit.MONTHS, at(2023, 2, 28, 15, 30, 0, 250_000)),
    (3, ast.Unit.MONTHS, at(2023, 12, 31, 15, 30, 0, 250_000)),
    (2, ast.Unit.WEEKS, at(2024, 3, 17, 15, 30, 0, 250_000)),
    (36, ast.Unit.HOURS, at(2024, 3, 30, 3, 30, 0, 250_000)),
])
def test_minus_uses_calendar_months(amount, unit, expected):
    assert temporal.minus(NOW, amount, unit) == expected


def test_now_is_cut_to_milliseconds_like_stored_times():
    assert temporal.normalize_now(at(2024, 1, 1, 0, 0, 0, 123_456)).microsecond == 123_000
    naive = dt.datetime(2024, 1, 1)
    assert temporal.normalize_now(naive).tzinfo == UTC


def condition_interval(text):
    node = parse(text)
    return temporal.compare_interval(node.op, node.value, NOW)


def test_a_day_compares_by_whole_utc_day():
    day = condition_interval("D equals 2024-05-01")
    assert day.contains(at(2024, 5, 1)) and day.contains(at(2024, 5, 1, 23, 59, 59, 999_000))
    assert not day.contains(at(2024, 5, 2)) and not day.contains(at(2024, 4, 30, 23, 59, 59))
    before = condition_interval("D before 2024-05-01")
    assert before.contains(at(2024, 4, 30, 23, 59, 59, 999_000)) and not before.contains(at(2024, 5, 1))
    after = condition_interval("D after 2024-05-01")
    assert after.contains(at(2024, 5, 2)) and not after.contains(at(2024, 5, 1, 23, 59))


def test_an_instant_compares_exactly():
    after = condition_interval("D after 2024-05-01T10:00:00Z")
    assert not after.contains(at(2024, 5, 1, 10)) and after.contains(at(2024, 5, 1, 10, 0, 0, 1000))
    assert condition_interval("D equals 2024-05-01T10:00:00Z").contains(at(2024, 5, 1, 10))


def test_relative_days_are_calendar_days_and_hours_are_instants():
    assert temporal.resolve(ast.Today(), NOW) == dt.date(2024, 3, 31)
    assert temporal.resolve(ast.Ago(1, ast.Unit.MONTHS), NOW) == dt.date(2024, 2, 29)
    assert temporal.resolve(ast.Ago(2, ast.Unit.HOURS), NOW) == at(2024, 3, 31, 13, 30, 0, 250_000)


def test_windows():
    last = temporal.window_interval(ast.LastWindow(7, ast.Unit.DAYS), NOW)
    assert last.contains(NOW) and last.contains(NOW - dt.timedelta(days=7))
    assert not last.contains(NOW + dt.timedelta(milliseconds=1))
    assert not last.contains(NOW - dt.timedelta(days=7, milliseconds=1))
    since = temporal.window_interval(ast.SinceWindow(ast.Day(dt.date(2024, 1, 1))), NOW)
    assert since.contains(at(2024, 1, 1)) and not since.contains(at(2023, 12, 31, 23, 59))
    before = temporal.window_interval(ast.BeforeWindow(ast.Day(dt.date(2024, 1, 1))), NOW)
    assert before.contains(at(2023, 12, 31, 23, 59)) and not before.contains(at(2024, 1, 1))
    between = temporal.window_interval(
        ast.BetweenWindow(ast.Day(dt.date(2024, 1, 1)), ast.Day(dt.date(2024, 1, 31))), NOW)
    assert between.contains(at(2024, 1, 1)) and between.contains(at(2024, 1, 31, 23, 59))
    assert not between.contains(at(2024, 2, 1))
    assert temporal.window_interval(None, NOW).contains(at(1900, 1, 1))


# --- time zones: calendar days of the profile database's zone ---------------------------------

WARSAW = temporal.zone_of("Europe/Warsaw")


@pytest.mark.parametrize("day, start, end, hours", [
    (dt.date(2024, 3, 31), at(2024, 3, 30, 23), at(2024, 3, 31, 22), 23),  # clocks go forward
    (dt.date(2024, 10, 27), at(2024, 10, 26, 22), at(2024, 10, 27, 23), 25),  # and back
    (dt.date(2024, 5, 1), at(2024, 4, 30, 22), at(2024, 5, 1, 22), 24),
])
def test_a_day_in_a_zone_can_be_23_or_25_hours_long(day, start, end, hours):
    interval = temporal.equals_interval(ast.Day(day), NOW, WARSAW)
    assert (interval.lower, interval.upper, interval.upper_inclusive) == (start, end, False)
    assert interval.upper - interval.lower == dt.timedelta(hours=hours)
    assert temporal.before_interval(ast.Day(day), NOW, WARSAW).upper == start
    assert temporal.after_interval(ast.Day(day), NOW, WARSAW).lower == end


def test_a_day_starting_in_a_gap_starts_at_the_change():
    # Santiago moved from -04 to -03 at local midnight of 2024-09-08: no 00:00 that day.
    santiago = temporal.zone_of("America/Santiago")
    day = temporal.equals_interval(ast.Day(dt.date(2024, 9, 8)), NOW, santiago)
    assert (day.lower, day.upper) == (at(2024, 9, 8, 4), at(2024, 9, 9, 3))


def test_today_and_days_ago_are_the_zones_days():
    late = at(2024, 3, 31, 22, 30)  # already April 1st (00:30) in Warsaw
    assert temporal.resolve(ast.Today(), late, WARSAW) == dt.date(2024, 4, 1)
    assert temporal.resolve(ast.Today(), late) == dt.date(2024, 3, 31)
    assert temporal.resolve(ast.Ago(1, ast.Unit.DAYS), late, WARSAW) == dt.date(2024, 3, 31)
    assert temporal.resolve(ast.Ago(1, ast.Unit.MONTHS), late, WARSAW) == dt.date(2024, 3, 1)
    # `N hours ago` stays an instant whatever the zone
    assert temporal.resolve(ast.Ago(2, ast.Unit.HOURS), late, WARSAW) == at(2024, 3, 31, 20, 30)


def test_in_last_days_is_a_duration_and_months_are_the_zones_months():
    now = at(2024, 4, 1, 12)
    assert temporal.last_interval(1, ast.Unit.DAYS, now, WARSAW).lower == at(2024, 3, 31, 12)
    # one calendar month back in Warsaw: 14:00 CEST on Apr 1 -> 14:00 CET on Mar 1
    assert temporal.last_interval(1, ast.Unit.MONTHS, now, WARSAW).lower == at(2024, 3, 1, 13)
    assert temporal.last_interval(1, ast.Unit.MONTHS, now).lower == at(2024, 3, 1, 12)


def test_windows_of_days_use_the_zone():
    window = temporal.window_interval(parse("event X occurred between 2024-10-27 and "
                                            "2024-10-27").window, NOW, WARSAW)
    assert (window.lower, window.upper) == (at(2024, 10, 26, 22), at(2024, 10, 27, 23))
    since = temporal.window_interval(parse("event X occurred since 2024-03-31").window, NOW,
                                     WARSAW)
    assert since.lower == at(2024, 3, 30, 23)


def test_unknown_zones_are_refused_with_a_hint():
    with pytest.raises(Exception, match="not a known time zone"):
        temporal.zone_of("Mars/Olympus")
    with pytest.raises(Exception, match="not a time zone"):
        temporal.zone_of("../etc/passwd")
