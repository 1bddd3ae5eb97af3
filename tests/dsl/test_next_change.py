"""next_change never reports a flip later than the first real one: the reference evaluator
gives the same answer at every instant from `now` up to (not including) the reported
instant, probed where flips can happen (every stored instant shifted by every window and
`ago` amount, each ± 1 ms, and the midnights between)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from dsl import ast
from dsl.dependencies import reads
from dsl.evaluator import evaluate
from dsl.next_change import next_change
from tests.dsl.strategies import typed_expressions

UTC = dt.timezone.utc
BASE = dt.datetime(2024, 2, 27, 12, tzinfo=UTC)  # near a leap day and a month end
FIELDS = {"Signup": "date", "Age": "number"}
ATTRIBUTES = {"sent": "date", "price": "number"}
OFFSETS = [dt.timedelta(hours=h) for h in (-24 * 40, -24 * 31, -24 * 8, -30, -12, -3, -1, 0,
                                           1, 3, 12, 23, 30, 24 * 3, 24 * 8, 24 * 33)]
moments = st.builds(lambda offset, ms: BASE + offset + dt.timedelta(milliseconds=ms),
                    st.sampled_from(OFFSETS), st.sampled_from([0, 1, -1, 0, 0]))
SHIFTS = [dt.timedelta(0), dt.timedelta(hours=3), dt.timedelta(hours=12), dt.timedelta(days=1),
          dt.timedelta(days=7), dt.timedelta(days=14), dt.timedelta(days=30)]


def _probes(values, now, until):
    """Instants in (now, until) where an answer could flip."""
    found = set()
    for value in values:
        for shift in SHIFTS:
            for months in (0, 1):
                base = value + shift
                if months:  # a calendar month later: 28 to 31 days, near month ends
                    for days in (28, 29, 30, 31, 32):
                        for ms in (-1, 0, 1):
                            found.add(value + dt.timedelta(days=days, milliseconds=ms))
                for ms in (-1, 0, 1):
                    found.add(base + dt.timedelta(milliseconds=ms))
    day = now.date()
    for step in range(0, 70):
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(days=step)
        found.update({midnight, midnight - dt.timedelta(milliseconds=1)})
    return sorted(moment for moment in found if now < moment < until)


@given(expr=typed_expressions(FIELDS, ["Buy"], ATTRIBUTES, ["VIP"]),
       signup=st.none() | moments,
       events=st.lists(st.fixed_dictionaries({
           "type": st.just("Buy"), "time": moments,
           "attributes": st.fixed_dictionaries({}, optional={"sent": moments,
                                                             "price": st.just(5)})}),
           max_size=4),
       now=moments)
def test_no_flip_before_the_reported_instant(expr, signup, events, now):
    contact = {"id": "c", "fields": {} if signup is None else {"Signup": signup}, "lists": []}
    at = next_change(expr, contact, events, now)
    assert at is None or at > now
    until = at if at is not None else now + dt.timedelta(days=70)
    values = [event["time"] for event in events]
    values += [event["attributes"]["sent"] for event in events if "sent" in event["attributes"]]
    values += [signup] if signup is not None else []
    expected = evaluate(expr, contact, events, now)
    for probe in _probes(values, now, until):
        assert evaluate(expr, contact, events, probe) == expected, (expr, now, probe, at)
    if at is None:
        assert evaluate(expr, contact, events, until) == expected


def test_a_window_edge_passing_an_event_is_the_next_change():
    expr = ast.EventCondition("Buy", window=ast.LastWindow(7, ast.Unit.DAYS))
    event = {"type": "Buy", "time": BASE, "attributes": {}}
    assert next_change(expr, {"fields": {}}, [event], BASE) == BASE + dt.timedelta(days=7,
                                                                                  milliseconds=1)
    # an event in the future enters the window when `now` reaches it
    assert next_change(expr, {"fields": {}}, [event], BASE - dt.timedelta(hours=1)) == BASE


def test_a_count_that_time_can_only_lower_is_settled_when_lowering_cannot_flip_it():
    from dsl.parser import parse

    def buys(*days_ago):
        return [{"type": "Buy", "time": BASE - dt.timedelta(days=days), "attributes": {}}
                for days in days_ago]

    one_buy = {"fields": {"Signup": BASE}}
    # without a later event, a window's count only falls: "at least 2" is false for good
    for text in ("event Buy occurred at least 2 times in last 30 days",
                 "event Buy occurred in last 30 days where price > 3",
                 'event Buy occurred at least 2 times in last 30 days and Signup in last 3 days'):
        assert next_change(parse(text), one_buy, buys(5), BASE) is None, text
    # true and only falling counts keep "did not occur" and "at most" true
    for text in ("event Buy did not occur in last 3 days",
                 "event Buy occurred at most 2 times in last 30 days"):
        assert next_change(parse(text), one_buy, buys(5), BASE) is None, text
    # what a falling count can flip keeps its instant: the event leaving the window
    leaves = BASE + dt.timedelta(days=25, milliseconds=1)
    for text in ("event Buy occurred in last 30 days", "event Buy did not occur in last 30 days",
                 "event Buy occurred exactly 1 times in last 30 days"):
        assert next_change(parse(text), one_buy, buys(5, 45), BASE) == leaves, text
    assert next_change(parse("event Buy occurred at most 1 times in last 30 days"), one_buy,
                       buys(5, 6), BASE) == BASE + dt.timedelta(days=24, milliseconds=1)
    # an event later than now enters the window: the count can rise
    assert next_change(parse("event Buy occurred at least 2 times in last 30 days"), one_buy,
                       buys(5, -1), BASE) == BASE + dt.timedelta(days=1)
    # a `where` that moves with time can let more events match
    assert next_change(parse("event Buy occurred at least 2 times in last 30 days "
                             "where sent before 2 days ago"), one_buy,
                       [dict(event, attributes={"sent": BASE}) for event in buys(5, 6)],
                       BASE) is not None


def test_days_ago_steps_at_midnight_and_absolute_dates_never_move():
    signup = dt.datetime(2024, 2, 20, 15, tzinfo=UTC)
    before = ast.Compare("Signup", ast.CompareOp.BEFORE, ast.Ago(7, ast.Unit.DAYS))
    at = next_change(before, {"fields": {"Signup": signup}}, [], BASE)
    assert at == dt.datetime(2024, 2, 28, tzinfo=UTC)
    assert evaluate(before, {"fields": {"Signup": signup}}, [], at)
    assert not evaluate(before, {"fields": {"Signup": signup}}, [], at - dt.timedelta(milliseconds=1))
    fixed = ast.Compare("Signup", ast.CompareOp.BEFORE, ast.Day(dt.date(2024, 3, 1)))
    assert next_change(fixed, {"fields": {"Signup": signup}}, [], BASE) is None
    assert reads(before).time_dependent and not reads(fixed).time_dependent


def test_reads_names_what_an_expression_depends_on():
    from dsl.parser import parse

    found = reads(parse('City equals "x" and not in list "VIP" or event MailOpen occurred or '
                        'event Buy occurred in last 3 days where price > 5 and Age > 3'))
    assert found.fields == {"City", "Age"}  # not the `where` attribute
    assert found.lists == {"VIP"}
    assert found.event_types == {"MailOpen", "Buy"}
    assert found.event_types_in_full == {"Buy"}  # MailOpen: the summary answers
    assert found.time_dependent
    assert found.touched_by(lists={"VIP"}) and not found.touched_by(fields={"price"})


def test_reads_say_which_new_events_and_old_ones_can_matter():
    from dsl.parser import parse

    found = reads(parse("event Buy occurred at least 2 times in last 3 days where price > 5 "
                        "or event Open occurred in last 7 days or event Click occurred"))
    day = dt.timedelta(days=1)
    # a new event before every `in last` window of its type changes nothing, now or later
    assert not found.event_matters("Buy", BASE - 4 * day, BASE)
    assert found.event_matters("Buy", BASE - 2 * day, BASE)
    assert found.event_matters("Buy", BASE + day, BASE)  # enters later
    assert not found.event_matters("Open", BASE - 8 * day, BASE)
    assert found.event_matters("Click", BASE - 800 * day, BASE)  # no window: any event counts
    assert not found.event_matters("Other", BASE, BASE)
    # the events of `Buy` are needed only while two of them can be in the window
    assert not found.events_needed("Buy", 1, BASE - day, BASE)
    assert found.events_needed("Buy", 2, BASE - day, BASE)
    assert not found.events_needed("Buy", 9, BASE - 4 * day, BASE)  # all before the window
    assert found.events_needed("Buy", 9, BASE + day, BASE)  # one later than now
