"""Live membership kept on writes, on definition changes and as time passes, with its
changes recorded (store/live/)."""

from __future__ import annotations

import datetime as dt

import pytest

from dsl.schema import FieldType
from store.clock import utc_now
from store.collections import LIVE_MEMBERS
from store.contacts import upsert_contacts
from store.errors import StoreInputError
from store.events import EventIngest, track_events
from store.fields import define_field
from store.lists import add_to_list, create_list, remove_from_list
from store.live import clock
from store.live.changes import changes_after
from store.live.evaluation import read_contacts
from store.live.maintenance import Touched
from store.live.membership import member_ids, save_states
from store.live.registry import live_segments
from store.live.sweep import sweep
from store.lookups import IN_CHUNK
from store.segment_bin import delete_segment, restore_segment
from store.segments import create_segment, update_segment
from store import query

pytestmark = pytest.mark.asyncio
UTC = dt.timezone.utc
T0 = dt.datetime(2030, 1, 10, 12, tzinfo=UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def frozen_clock():
    with clock.frozen_at(T0):
        yield


async def changes_of(db, segment_id):
    items = await changes_after(db, segment_id, 0, 10_000)
    return [(item.contact, item.change, item.at, item.cause) for item in items]


async def fresh(db, segment, now):
    prepared = await query.prepare_segment(db, segment, now=now)
    return sorted([row["id"] async for row in query.members(prepared)])


def segment_expression(segment):
    from dsl.json_codec import from_json

    return from_json(segment.json)


async def test_writes_keep_membership_and_record_changes(store):
    db = store.db
    await define_field(db, "main", "City", FieldType.TEXT)
    await upsert_contacts(db, "main", [{"id": "a", "fields": {"City": "Krakow"}},
                                       {"id": "b", "fields": {"City": "Warsaw"}}])
    krakow = await create_segment(db, name="Krakow", expression='City equals "krakow"',
                                  actor="t")
    assert await member_ids(db, krakow.id) == ["a"]
    assert await changes_of(db, krakow.id) == [("a", "entered", T0, "definition")]

    await upsert_contacts(db, "main", [{"id": "b", "fields": {"City": "KRAKOW"}},
                                       {"id": "a", "fields": {"City": None}}])
    assert await member_ids(db, krakow.id) == ["b"]
    assert (await changes_of(db, krakow.id))[1:] == [("a", "left", T0, "contact"),
                                                     ("b", "entered", T0, "contact")]

    await create_list(db, "main", "VIP", actor="t")
    vip = await create_segment(db, name="VIP", expression='in list "VIP"', actor="t")
    await add_to_list(db, "main", "VIP", ["a", "b"])
    assert await member_ids(db, vip.id) == ["a", "b"]
    await remove_from_list(db, "main", "VIP", ["a"])
    assert await member_ids(db, vip.id) == ["b"]
    assert [c[1:] for c in await changes_of(db, vip.id)][-1] == ("left", T0, "list")

    both = await create_segment(db, name="Both", expression='in segment "VIP" and in segment '
                                '"Krakow"', actor="t")
    assert await member_ids(db, both.id) == ["b"]
    # a referenced segment's new definition changes its referrers
    await update_segment(db, krakow.id, expression='City equals "Warsaw"', actor="t")
    assert await member_ids(db, krakow.id) == []
    assert await member_ids(db, both.id) == []
    assert (await changes_of(db, both.id))[-1] == ("b", "left", T0, "definition")

    await delete_segment(db, both.id, actor="t")
    await upsert_contacts(db, "main", [{"id": "b", "fields": {"City": "Warsaw"}}])
    assert await member_ids(db, krakow.id) == ["b"]
    restored = await restore_segment(db, both.id, actor="t")
    assert await member_ids(db, restored.id) == ["b"]


async def test_events_and_time_enter_and_exit_at_the_exact_instant(store):
    db = store.db
    await upsert_contacts(db, "main", [{"id": "a"}, {"id": "b"}, {"id": "z"}])
    await track_events(db, "main", [{"contact": "z", "type": "Buy", "time": "2020-01-01"}])
    recent = await create_segment(
        db, name="Recent buyers", actor="t",
        expression="event Buy occurred at least 2 times in last 7 days")
    bought = T0 - dt.timedelta(days=2)
    report = await track_events(db, "main", [
        {"contact": "a", "type": "Buy", "time": iso(bought)},
        {"contact": "a", "type": "Buy", "time": iso(bought + dt.timedelta(hours=5))},
        {"contact": "b", "type": "Buy", "time": iso(T0 + dt.timedelta(days=1))}])  # future
    assert report.stored == 3
    assert await member_ids(db, recent.id) == ["a"]
    # b's future purchase enters the window when time reaches it: b still has only one
    ingest = EventIngest(db, "main")
    await ingest.add([{"contact": "b", "type": "Buy", "time": iso(T0 - dt.timedelta(days=1))}])
    await ingest.apply()
    assert await member_ids(db, recent.id) == ["a"]

    later = T0 + dt.timedelta(days=6)
    await sweep(db, now=later)
    # a's first purchase left the window at bought + 7 days (+1 ms: the window includes its
    # edge); b entered when its second purchase came into the window
    assert await member_ids(db, recent.id) == ["b"]
    assert await fresh(db, recent, later) == ["b"]
    changes = await changes_of(db, recent.id)
    assert ("b", "entered", T0 + dt.timedelta(days=1), "time") in changes
    assert ("a", "left", bought + dt.timedelta(days=7, milliseconds=1), "time") in changes

    with pytest.raises(StoreInputError, match="backwards"):
        await sweep(db, now=T0)
    await sweep(db, now=later)  # the same instant again: nothing to do
    assert await changes_of(db, recent.id) == changes


async def test_a_batch_of_more_contacts_than_one_look_up_takes_is_maintained_whole(store):
    # the live reads go IN_CHUNK contacts at a time: every chunk's contacts, their events
    # and their stored state must be read (a contact left out would keep its old answer)
    db = store.db
    keys = [f"c{n:03d}" for n in range(2 * IN_CHUNK + 7)]
    await upsert_contacts(db, "main", [{"id": key} for key in keys])
    await track_events(db, "main", [{"contact": key, "type": "Buy", "time": iso(
        T0 - dt.timedelta(days=1)), "attributes": {"price": n}} for n, key in enumerate(keys)])
    segment = await create_segment(
        db, name="Two buys over 50", actor="t",
        expression="event Buy occurred at least 2 times in last 7 days where price > 50")
    assert await member_ids(db, segment.id) == []
    report = await track_events(db, "main", [
        {"contact": key, "type": "Buy", "time": iso(T0 - dt.timedelta(hours=1)),
         "attributes": {"price": n}} for n, key in enumerate(keys)])
    assert report.stored == len(keys)
    expected = [key for n, key in enumerate(keys) if n > 50]
    assert await member_ids(db, segment.id) == expected == await fresh(db, segment, T0)
    # and out again: the events of every chunk are read back when the window moves
    await track_events(db, "main", [{"contact": key, "type": "Other", "time": iso(T0)}
                                    for key in keys])
    later = T0 + dt.timedelta(days=8)
    await sweep(db, now=later)
    assert await member_ids(db, segment.id) == [] == await fresh(db, segment, later)


async def test_a_contact_whose_count_decides_the_answer_has_no_events_read(store):
    # "at least 2 ... where price > 50" is false for a contact with one Buy whatever it is,
    # and for one whose Buys are all older than the window: their summaries answer; a
    # contact with two recent ones has its events read
    db = store.db
    await upsert_contacts(db, "main", [{"id": "one"}, {"id": "two"}, {"id": "old"}])
    await track_events(db, "main", [
        {"contact": contact, "type": "Buy", "time": iso(T0 - dt.timedelta(hours=n + hours)),
         "attributes": {"price": 60}}
        for contact, times, hours in (("one", 1, 0), ("two", 2, 0), ("old", 3, 8 * 24))
        for n in range(times)])
    segment = await create_segment(
        db, name="Two buys over 50", actor="t",
        expression="event Buy occurred at least 2 times in last 7 days where price > 50")
    _, (live,) = await live_segments(db, "main")
    found = await read_contacts(db, ["main:one", "main:two", "main:old"], [live], T0)
    summary_only = [{}]  # the summary's stand-in events carry no attributes
    assert [event["attributes"] for event in found["main:one"].events] == summary_only
    assert [event["attributes"] for event in found["main:old"].events] == summary_only * 3
    assert [event["attributes"] for event in found["main:two"].events] == [{"price": 60}] * 2
    assert await member_ids(db, segment.id) == ["two"] == await fresh(db, segment, T0)
    # the window only moves on: "old" never enters, and "two" leaves when its first buy does
    later = T0 + dt.timedelta(days=8)
    await sweep(db, now=later)
    assert await member_ids(db, segment.id) == [] == await fresh(db, segment, later)


async def test_a_new_event_before_every_window_of_its_type_re_evaluates_no_segment(store):
    db = store.db
    await upsert_contacts(db, "main", [{"id": "a"}])
    await track_events(db, "main", [{"contact": "a", "type": "Buy", "time": iso(T0)}])
    week = await create_segment(db, name="Week", actor="t",
                                expression="event Buy occurred in last 7 days where price > 5")
    ever = await create_segment(db, name="Ever", actor="t", expression="event Buy occurred")
    _, segments = await live_segments(db, "main")

    def chosen(age: dt.timedelta) -> list[str]:
        touched = Touched(event_types={"Buy"},
                          event_times_by_contact={"main:a": {"Buy": T0 - age}})
        return sorted(segment.id for segment in touched.segments_by_contact(
            ["main:a"], segments, T0)["main:a"])

    assert chosen(dt.timedelta(days=8)) == [ever.id]  # before the window: only `ever`
    assert chosen(dt.timedelta(days=6)) == sorted([week.id, ever.id])
    assert chosen(-dt.timedelta(days=1)) == sorted([week.id, ever.id])  # enters later
    # and through an ingest: the old event changes nothing, the recent one enters `week`
    await track_events(db, "main", [{"contact": "a", "type": "Buy", "attributes": {"price": 9},
                                     "time": iso(T0 - dt.timedelta(days=8))}])
    assert await member_ids(db, week.id) == [] == await fresh(db, week, T0)
    await track_events(db, "main", [{"contact": "a", "type": "Buy", "attributes": {"price": 9},
                                     "time": iso(T0 - dt.timedelta(days=1))}])
    assert await member_ids(db, week.id) == ["a"] == await fresh(db, week, T0)


async def test_a_state_taken_for_new_that_another_writer_stored_meanwhile_is_updated(store):
    db = store.db
    state = {"segment": "s1", "database": "main", "contact": "a", "bucket": 1,
             "qualifies": False, "member": False, "flips": 0, "next_at": None}
    await save_states(db, [("s1:main:a", state, True), ("s1:main:b", state, True)])
    # both read as missing by a second writer: one created meanwhile, one not
    await save_states(db, [("s1:main:a", {**state, "member": True, "flips": 1}, True),
                           ("s1:main:c", {**state, "contact": "c"}, True)])
    stored = {document["_id"]: document async for document in db[LIVE_MEMBERS].find(
        {"segment": "s1"})}
    assert sorted(stored) == ["s1:main:a", "s1:main:b", "s1:main:c"]
    assert stored["s1:main:a"]["member"] is True and stored["s1:main:a"]["flips"] == 1


async def test_a_maximum_keeps_the_first_contacts_in_the_pipeline_order(store):
    db = store.db
    await define_field(db, "main", "Age", FieldType.NUMBER)
    await upsert_contacts(db, "main", [{"id": f"c{n}", "fields": {"Age": n}} for n in range(8)])
    capped = await create_segment(db, name="Capped", expression="Age >= 3", maximum=2,
                                  actor="t")
    assert await member_ids(db, capped.id) == await fresh(db, capped, T0)
    await upsert_contacts(db, "main", [{"id": f"c{n}", "fields": {"Age": 0}} for n in (3, 4, 5)])
    assert await member_ids(db, capped.id) == await fresh(db, capped, T0)


async def test_sends_and_exports_evaluate_at_use_and_agree_with_the_live_membership(store):
    db = store.db
    from store.campaigns import create_campaign, send_campaign
    from store.collections import CAMPAIGN_RECIPIENTS
    from store.exports import export_csv

    await define_field(db, "main", "City", FieldType.TEXT)
    await upsert_contacts(db, "main", [
        {"id": f"m{n}", "fields": {"City": "Krakow" if n % 2 else "Lodz",
                                   "Email": f"m{n}@example.com"}} for n in range(10)])
    await upsert_contacts(db, "main", [{"id": "t", "fields": {"City": "Lodz"}}])
    await track_events(db, "main", [{"contact": "t", "type": "Visit",
                                     "time": iso(T0 - dt.timedelta(days=2))}])
    segment = await create_segment(
        db, name="Krakow or recent", actor="t",
        expression='City equals "Krakow" or event Visit occurred in last 3 days')
    later = T0 + dt.timedelta(days=2)
    await sweep(db, now=later)  # t's visit left the window on the way
    live = await member_ids(db, segment.id)
    assert "t" not in live and len(live) == 5
    campaign = await create_campaign(db, name="Mail", channel="email", segment_id=segment.id,
                                     actor="t")
    sent = await send_campaign(db, campaign.id, now=later, actor="t")
    recipients = sorted([row["contact"] async for row in
                         db[CAMPAIGN_RECIPIENTS].find({"campaign": sent.id})])
    assert recipients == live
    text = "".join([chunk async for chunk in export_csv(db, segment.id, now=later, actor="t")])
    assert sorted(line.split(",")[0] for line in text.splitlines()[1:]) == live


async def test_member_actions_that_write_contacts_keep_live_membership(store):
    db = store.db
    from store.member_actions import bulk_update_field, copy_to_list

    await define_field(db, "main", "City", FieldType.TEXT)
    await define_field(db, "main", "Tier", FieldType.TEXT)
    await upsert_contacts(db, "main", [{"id": f"a{n}", "fields": {"City": "Krakow"}}
                                       for n in range(3)])
    krakow = await create_segment(db, name="Krakow", expression='City equals "Krakow"',
                                  actor="t")
    await create_list(db, "main", "Picked", actor="t")
    picked = await create_segment(db, name="Picked", expression='in list "Picked"', actor="t")
    gold = await create_segment(db, name="Gold", expression='Tier equals "gold"', actor="t")
    await copy_to_list(db, krakow.id, "Picked", now=utc_now(), actor="t")
    assert await member_ids(db, picked.id) == ["a0", "a1", "a2"]
    await bulk_update_field(db, krakow.id, "Tier", "gold", now=utc_now(), actor="t")
    assert await member_ids(db, gold.id) == ["a0", "a1", "a2"]
    assert {c[3] for c in await changes_of(db, gold.id)} == {"contact"}
