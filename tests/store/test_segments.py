"""Saved segments: create, validation and references, versions, rename, clone, preview,
the bin, listing with cursors, dependents, and the computation log."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import pytest_asyncio

from dsl.errors import SegmentErrors, SegmentSyntaxError, SegmentTypeError
from dsl import json_codec
from dsl.json_codec import form_key, read_before, to_json
from dsl.parser import parse
from store.campaigns import create_campaign
from store.clock import utc_now
from store.collections import SEGMENT_RUNS, SEGMENT_VERSIONS, SEGMENTS
from store.errors import ConflictError, InUseError, NameTakenError, NotFoundError, StoreInputError
from store.fields import ensure_database
from store.offload import INLINE_SIZE
from store.preview import preview_segment
from store.query import planner as plan_module
from store.segment_bin import delete_segment, dependents, purge_segment, restore_segment
from store.segment_history import get_version, segment_history
from store.segment_runs import count_segment, list_runs, segment_sizes
from store.segment_search import list_segments
from store.segments import (clone_segment, create_segment, find_segment, get_segment,
                            restore_version, update_segment)
from tests.store.seed import ACTOR, NOW, seed, seed_events

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(store):
    await seed(store.db)
    await seed_events(store.db)
    return store.db


async def make(db, name: str, expression: str = "", **settings):
    return await create_segment(db, name=name, expression=expression, actor=ACTOR, **settings)


def messages(error: BaseException) -> str:
    return str(error)


# --- create and validate ---------------------------------------------------------------------

async def test_create_stores_both_forms_and_version_one(db) -> None:
    segment = await create_segment(
        db, name="  Krakow adults ", expression='city  EQUALS "Krakow"  and Age >= 30'.replace(
            "city", "City"), description="People in Krakow", tags=["Geo", "geo", "Adults"],
        access_groups=["marketing"], range_from=0, range_to=50, maximum=10, actor=ACTOR)
    assert re.fullmatch(r"[0-9a-f]{16}", segment.id)
    assert segment.name == "Krakow adults" and segment.database == "main"
    assert segment.expression == 'City equals "Krakow" and Age >= 30'
    assert segment.json == to_json(parse(segment.expression))
    assert segment.tags == ("Geo", "Adults")  # repeats ignoring case dropped
    assert segment.access_groups == ("marketing",)
    assert (segment.range_from, segment.range_to, segment.maximum) == (0, 50, 10)
    assert segment.version == 1 and not segment.in_bin and segment.references == ()
    assert segment.created_by == ACTOR == segment.updated_by
    stored = await db[SEGMENTS].find_one({"_id": segment.id})
    assert stored["name_folded"] == "krakow adults" and stored["in_bin"] is False
    assert await get_segment(db, segment.id) == segment
    history = await segment_history(db, segment.id)
    assert [version.version for version in history] == [1]
    assert history[0].by == ACTOR and "expression" in history[0].changed


async def test_create_from_json_form_keeps_canonical_text(db) -> None:
    segment = await create_segment(db, name="Json", json=to_json(parse("Age > 40")),
                                   actor=ACTOR)
    assert segment.expression == "Age > 40"
    empty = await make(db, "Everyone")
    assert empty.expression == "" and empty.json == {"version": 1, "condition": None}


async def test_expression_is_given_exactly_once(db) -> None:
    with pytest.raises(StoreInputError, match="either as text or as JSON"):
        await create_segment(db, name="X", actor=ACTOR)
    with pytest.raises(StoreInputError, match="either as text or as JSON"):
        await create_segment(db, name="X", expression="Age > 1", json=to_json(parse("Age > 1")),
                             actor=ACTOR)


async def test_names_are_required_short_and_unique_ignoring_case(db) -> None:
    with pytest.raises(StoreInputError, match="cannot be empty"):
        await make(db, "   ")
    with pytest.raises(StoreInputError, match="the limit is 200"):
        await make(db, "x" * 201)
    await make(db, "x" * 200)
    await make(db, "Buyers")
    with pytest.raises(NameTakenError, match="a segment named Buyers already exists"):
        await make(db, "BUYERS")
    await ensure_database(db, "shop")
    other = await make(db, "buyers", database="shop")  # unique per profile database
    assert other.database == "shop"


async def test_settings_are_checked(db) -> None:
    with pytest.raises(StoreInputError, match="starts at 60"):
        await make(db, "R", range_from=60, range_to=20)
    with pytest.raises(StoreInputError, match="from 0 to 100"):
        await make(db, "R", range_to=101)
    with pytest.raises(StoreInputError, match="maximum"):
        await make(db, "R", maximum=-1)
    with pytest.raises(StoreInputError, match="no profile database nowhere"):
        await make(db, "R", database="nowhere")


async def test_language_errors_keep_line_and_column(db) -> None:
    with pytest.raises(SegmentSyntaxError) as syntax:
        await make(db, "Bad", 'City equals "Krakow" and\nAge >>> 3')
    assert syntax.value.line == 2 and syntax.value.column is not None
    with pytest.raises(SegmentErrors) as typed:
        await make(db, "Bad", 'Cty equals "Krakow" and in list "VPI" and event MailClik occurred')
    text = messages(typed.value)
    assert "unknown field Cty" in text and "did you mean City?" in text
    assert "no list named VPI" in text and "did you mean VIP?" in text
    assert "unknown event MailClik" in text and "did you mean MailClick?" in text
    assert typed.value.errors[0].line == 1 and typed.value.errors[0].column == 1
    assert await db[SEGMENTS].count_documents({}) == 0


# --- references and cycles ---------------------------------------------------------------------

async def test_references_by_name_or_id_are_stored_as_ids(db) -> None:
    base = await make(db, "Base", "Age > 20")
    adults = await make(db, "Other", "Age > 40")
    user = await make(db, "User", f'in segment "base" and in segment "{adults.id}"')
    assert user.references == (base.id, adults.id)
    assert [d.name for d in await dependents(db, base.id)] == ["User"]


async def test_unknown_or_binned_segment_is_refused_with_its_name(db) -> None:
    await make(db, "Active buyers", "Age > 20")
    with pytest.raises(SegmentErrors) as unknown:
        await make(db, "X", 'Age > 3 and in segment "Active buyer"')
    error = unknown.value.errors[0]
    assert "no segment named 'Active buyer'" in str(error)
    assert "did you mean Active buyers?" in str(error)
    assert (error.line, error.column) == (1, 13)
    old = await make(db, "Old", "Age > 50")
    await delete_segment(db, old.id, actor=ACTOR)
    with pytest.raises(SegmentErrors, match="segment Old is in the bin"):
        await make(db, "Y", 'in segment "Old"')
    with pytest.raises(SegmentErrors, match="is in the bin"):
        await make(db, "Y", f'in segment "{old.id}"')


async def test_a_segment_cannot_reach_itself(db) -> None:
    with pytest.raises(SegmentErrors, match="cycle: Self → Self"):
        await make(db, "Self", 'Age > 3 or in segment "self"')
    segment = await make(db, "Me", "Age > 3")
    with pytest.raises(SegmentErrors, match="cycle: Me → Me"):
        await update_segment(db, segment.id, expression=f'in segment "{segment.id}"', actor=ACTOR)
    with pytest.raises(SegmentErrors, match="cycle"):  # under its new name, too
        await update_segment(db, segment.id, name="You", expression='in segment "You"',
                             actor=ACTOR)


async def test_cycles_through_stored_segments_are_named(db) -> None:
    a = await make(db, "A", "Age > 1")
    b = await make(db, "B", 'in segment "A"')
    c = await make(db, "C", 'in segment "B" and Age < 90')
    with pytest.raises(SegmentTypeError, match="cycle: A → C → B → A"):
        await update_segment(db, a.id, expression='in segment "C"', actor=ACTOR)
    # B refers to A by id: renaming A in the same update still finds the cycle.
    await update_segment(db, b.id, expression=f'in segment "{a.id}"', actor=ACTOR)
    with pytest.raises(SegmentTypeError, match="cycle: A → C → B → A"):
        await update_segment(db, a.id, name="A2", expression='in segment "C"', actor=ACTOR)
    assert (await get_segment(db, a.id)).version == 1
    assert c.references == (b.id,)


# --- versions --------------------------------------------------------------------------------------

async def test_every_change_is_a_version_and_no_change_is_none(db) -> None:
    segment = await make(db, "Adults", "Age >= 18", tags=["a"])
    v2 = await update_segment(db, segment.id, expression="Age >= 21", maximum=5,
                              actor="test:bob")
    assert v2.version == 2 and v2.expression == "Age >= 21" and v2.maximum == 5
    assert v2.updated_by == "test:bob" and v2.created_by == ACTOR
    same = await update_segment(db, segment.id, expression="age >= 21".replace("age", "Age"),
                                maximum=5, tags=["a"], actor="test:bob")
    assert same.version == 2  # same text (canonical), same maximum, same tags: no version
    v3 = await update_segment(db, segment.id, tags=["b"], maximum=None, description="d",
                              actor="test:carol")
    assert v3.version == 3 and v3.maximum is None and v3.tags == ("b",)
    history = await segment_history(db, segment.id)
    assert [(v.version, v.by, v.changed) for v in history] == [
        (1, ACTOR, ("name", "description", "tags", "access_groups", "expression",
                    "range_from", "range_to", "maximum")),
        (2, "test:bob", ("expression", "maximum")),
        (3, "test:carol", ("description", "tags", "maximum")),
    ]
    first = await get_version(db, segment.id, 1)
    assert first.definition.expression == "Age >= 18" and first.definition.maximum is None
    assert (await get_version(db, segment.id, 2)).definition.maximum == 5
    with pytest.raises(NotFoundError, match="has no version 9"):
        await get_version(db, segment.id, 9)
    back = await restore_version(db, segment.id, 1, actor=ACTOR)
    assert back.version == 4 and back.expression == "Age >= 18" and back.tags == ("a",)
    assert (await segment_history(db, segment.id))[-1].note == "restored from v1"


async def test_a_version_lost_to_a_crash_is_rewritten(db) -> None:
    segment = await make(db, "Crash", "Age > 1")
    await update_segment(db, segment.id, expression="Age > 2", actor=ACTOR)
    await db[SEGMENT_VERSIONS].delete_one({"_id": f"{segment.id}:2"})
    history = await segment_history(db, segment.id)
    assert [v.version for v in history] == [1, 2]
    assert history[1].definition.expression == "Age > 2"
    assert await db[SEGMENT_VERSIONS].count_documents({"segment": segment.id}) == 2


async def test_update_refusals(db) -> None:
    segment = await make(db, "Fixed", "Age > 1")
    with pytest.raises(StoreInputError, match="fixed when it is created"):
        await update_segment(db, segment.id, database="shop", actor=ACTOR)
    with pytest.raises(ConflictError, match="at version 1, not 7"):
        await update_segment(db, segment.id, name="Z", expected_version=7, actor=ACTOR)
    with pytest.raises(NotFoundError):
        await update_segment(db, "nope", name="Z", actor=ACTOR)
    await make(db, "Taken")
    with pytest.raises(NameTakenError, match="Taken"):
        await update_segment(db, segment.id, name="taken", actor=ACTOR)
    await delete_segment(db, segment.id, actor=ACTOR)
    with pytest.raises(StoreInputError, match="is in the bin"):
        await update_segment(db, segment.id, name="Z", actor=ACTOR)


async def test_rename_is_refused_while_others_name_it(db) -> None:
    base = await make(db, "Base", "Age > 1")
    await make(db, "By name 2", 'in segment "BASE"')
    await make(db, "By name 1", 'in segment "Base" and Age < 50')
    await make(db, "By id", f'in segment "{base.id}"')
    with pytest.raises(StoreInputError) as refused:
        await update_segment(db, base.id, name="Renamed", actor=ACTOR)
    assert "referred to by name in segments By name 1, By name 2" in str(refused.value)
    assert f'in segment "{base.id}"' in str(refused.value)
    case_only = await update_segment(db, base.id, name="BASE", actor=ACTOR)
    assert case_only.name == "BASE" and case_only.version == 2


async def test_rename_is_allowed_when_referred_to_by_id(db) -> None:
    base = await make(db, "Base", "Age > 1")
    user = await make(db, "User", f'in segment "{base.id}"')
    renamed = await update_segment(db, base.id, name="Renamed", actor=ACTOR)
    assert renamed.name == "Renamed"
    assert await count_segment(db, user.id, now=NOW, actor=ACTOR) == 6


async def test_clone_copies_the_definition_at_version_one(db) -> None:
    source = await make(db, "Source", "Age > 30", description="d", tags=["t"],
                        access_groups=["g"], range_to=80, maximum=3)
    await update_segment(db, source.id, expression="Age > 20", actor=ACTOR)
    clone = await clone_segment(db, source.id, "Copy", actor="test:bob")
    assert clone.id != source.id and clone.version == 1 and clone.name == "Copy"
    assert (clone.expression, clone.description, clone.tags, clone.access_groups,
            clone.range_to, clone.maximum, clone.database) == \
        ("Age > 20", "d", ("t",), ("g",), 80, 3, "main")
    assert (await segment_history(db, clone.id))[0].note == "cloned from Source v2"
    with pytest.raises(NameTakenError):
        await clone_segment(db, source.id, "source", actor=ACTOR)


# --- preview ------------------------------------------------------------------------------------

async def test_preview_counts_and_samples_without_writing(db) -> None:
    collections = {name: await db[name].count_documents({})
                   for name in await db.list_collection_names()}
    preview = await preview_segment(db, expression='City equals "krakow"', now=NOW)
    assert preview.count == 3
    assert sorted(contact["id"] for contact in preview.contacts) == ["c1", "c3", "c5"]
    assert preview.contacts[0]["fields"]["City"].lower() == "krakow"
    assert preview.expression == 'City equals "krakow"'
    capped = await preview_segment(db, json=to_json(parse("Age > 0")), maximum=2, now=NOW)
    assert capped.count == 2 and len(capped.contacts) == 2
    full = await preview_segment(db, expression="Age > 0", now=NOW)
    assert [c["id"] for c in full.contacts][:2] == [c["id"] for c in capped.contacts]
    split = [await preview_segment(db, expression="", range_from=low, range_to=high, now=utc_now())
             for low, high in [(0, 50), (50, 100)]]
    assert split[0].count + split[1].count == 6
    assert not {c["id"] for c in split[0].contacts} & {c["id"] for c in split[1].contacts}
    await make(db, "Saved", "Age > 40")
    linked = await preview_segment(db, expression='in segment "saved"', now=NOW)
    assert linked.count == 2
    # only what `make` wrote (the saved segment, its version, and its live membership)
    assert {name: await db[name].count_documents({})
            for name in await db.list_collection_names()
            if name in collections and not name.startswith("live_")} == {
        name: count for name, count in collections.items() if not name.startswith("live_")} | {
        SEGMENTS: 1, SEGMENT_VERSIONS: 1}


async def test_a_preview_counts_the_events_once(db, monkeypatch) -> None:
    """The count and the sample come from one evaluation: the events side is read once."""
    reads = []
    count_events = plan_module.count_events

    async def counting(*arguments, **options):
        reads.append(1)
        return await count_events(*arguments, **options)
    monkeypatch.setattr(plan_module, "count_events", counting)
    preview = await preview_segment(
        db, expression="event MailOpen occurred where campaign has no value", now=NOW)
    assert preview.count == 2 and len(preview.contacts) == 2
    assert len(reads) == 1


async def test_preview_errors(db) -> None:
    with pytest.raises(SegmentSyntaxError) as error:
        await preview_segment(db, expression="Age >", now=utc_now())
    assert error.value.line == 1 and error.value.column == 6
    with pytest.raises(SegmentErrors, match="no segment named 'Nothing'"):
        await preview_segment(db, expression='in segment "Nothing"', now=utc_now())
    with pytest.raises(StoreInputError, match="maximum"):
        await preview_segment(db, expression="", maximum=-3, now=utc_now())


async def test_preview_returns_at_most_one_hundred(store) -> None:
    await seed(store.db, contacts=[{"id": f"p{n:03d}"} for n in range(130)])
    preview = await preview_segment(store.db, expression="", now=utc_now())
    assert preview.count == 130 and len(preview.contacts) == 100


# --- the bin -------------------------------------------------------------------------------------

async def test_delete_restore_purge(db) -> None:
    segment = await make(db, "Bin me", "Age > 1")
    await update_segment(db, segment.id, expression="Age > 2", actor=ACTOR)
    await count_segment(db, segment.id, now=utc_now(), maintained=True, actor=ACTOR)
    binned = await delete_segment(db, segment.id, actor="test:bob")
    assert binned.in_bin and binned.binned_by == "test:bob" and binned.version == 2
    assert (await delete_segment(db, segment.id, actor=ACTOR)).in_bin  # again: no change
    bin_page = await list_segments(db, in_bin=True)
    assert [s.name for s in bin_page.items] == ["Bin me"]
    assert [s.name for s in (await list_segments(db)).items] == []
    with pytest.raises(StoreInputError, match="not in the bin"):
        await purge_segment(db, (await make(db, "Live")).id, actor=ACTOR)
    restored = await restore_segment(db, segment.id, actor=ACTOR)
    assert not restored.in_bin and restored.version == 2 and restored.binned_at is None
    await delete_segment(db, segment.id, actor=ACTOR)
    await purge_segment(db, segment.id, actor=ACTOR)
    assert await get_segment(db, segment.id) is None
    assert await db[SEGMENT_VERSIONS].count_documents({"segment": segment.id}) == 0
    assert await db[SEGMENT_RUNS].count_documents({"segment": segment.id}) == 0


async def test_a_binned_name_can_be_reused_and_restore_is_then_refused(db) -> None:
    old = await make(db, "Reused", "Age > 1")
    await delete_segment(db, old.id, actor=ACTOR)
    new = await make(db, "REUSED", "Age > 2")
    with pytest.raises(NameTakenError) as refused:
        await restore_segment(db, old.id, actor=ACTOR)
    assert f"another segment named REUSED (id {new.id})" in str(refused.value)
    assert "rename or delete that segment first" in str(refused.value)
    await delete_segment(db, new.id, actor=ACTOR)
    with pytest.raises(StoreInputError, match="2 segments named 'reused' are in the bin"):
        await find_segment(db, "main", "reused", in_bin=True)
    assert (await restore_segment(db, old.id, actor=ACTOR)).in_bin is False


async def test_delete_and_purge_are_refused_while_used(db) -> None:
    base = await make(db, "Base", "Age > 1")
    await make(db, "Zed", 'in segment "Base"')
    await make(db, "Alpha", f'in segment "{base.id}"')
    await create_campaign(db, name="Spring", channel="email", segment_id=base.id, actor=ACTOR)
    with pytest.raises(InUseError) as refused:
        await delete_segment(db, base.id, actor=ACTOR)
    assert refused.value.users == ["segment Alpha", "segment Zed", "campaign Spring (draft)"]
    assert "cannot be moved to the bin: it is used by segment Alpha, segment Zed, campaign " \
           "Spring (draft)" in str(refused.value)
    assert [(d.kind, d.name) for d in await dependents(db, base.id)] == [
        ("segment", "Alpha"), ("segment", "Zed"), ("campaign", "Spring")]
    # Purge is checked too (a campaign targets it even though it sits in the bin).
    await db[SEGMENTS].update_one({"_id": base.id}, {"$set": {"in_bin": True}})
    with pytest.raises(InUseError, match="cannot be purged"):
        await purge_segment(db, base.id, actor=ACTOR)


async def test_restore_is_refused_when_a_reference_is_gone(db) -> None:
    base = await make(db, "Base", "Age > 1")
    user = await make(db, "User", 'in segment "Base"')
    await delete_segment(db, user.id, actor=ACTOR)
    await delete_segment(db, base.id, actor=ACTOR)  # nothing live uses it now
    with pytest.raises(SegmentErrors, match="segment Base is in the bin"):
        await restore_segment(db, user.id, actor=ACTOR)
    await restore_segment(db, base.id, actor=ACTOR)
    assert not (await restore_segment(db, user.id, actor=ACTOR)).in_bin


# --- listing -------------------------------------------------------------------------------------

async def test_listing_pages_with_cursors_search_and_tags(db) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "echo", "Foxtrot", "alpha two"]
    for index, name in enumerate(names):
        await make(db, name, tags=["Even"] if index % 2 == 0 else ["odd"])
    seen, after = [], None
    while True:
        page = await list_segments(db, first=3, after=after)
        seen += [segment.name for segment in page.items]
        assert len(page.cursors) == len(page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == ["Alpha", "alpha two", "Bravo", "charlie", "delta", "echo", "Foxtrot"]
    found = await list_segments(db, search="ALPHA")
    assert [s.name for s in found.items] == ["Alpha", "alpha two"]
    second = await list_segments(db, search="alpha", first=1, after=found.cursors[0])
    assert [s.name for s in second.items] == ["alpha two"] and not second.has_next
    assert [s.name for s in (await list_segments(db, tag="even")).items] == [
        "alpha two", "charlie", "delta", "echo"]
    assert (await list_segments(db, search=".*")).items == []  # a literal, not a regex
    assert (await list_segments(db, first=0)).has_next
    with pytest.raises(StoreInputError, match="from 0 to 200"):
        await list_segments(db, first=201)
    with pytest.raises(StoreInputError, match="is not a cursor"):
        await list_segments(db, after="garbage!")
    with pytest.raises(StoreInputError, match="is not a cursor"):
        from store.pages import encode_cursor
        await list_segments(db, after=encode_cursor("recipient", "x"))


# --- computation log -------------------------------------------------------------------------

async def test_counts_are_logged_with_version_and_now(db) -> None:
    segment = await make(db, "Adults", "Age >= 30")
    assert await count_segment(db, segment.id, now=NOW, actor="test:bob") == 4
    await update_segment(db, segment.id, expression="Age >= 40", actor=ACTOR)
    assert await count_segment(db, segment.id, now=utc_now(), maintained=True, actor=ACTOR) == 2
    runs = await list_runs(db, segment.id)
    assert [(r.purpose, r.count, r.version, r.actor) for r in runs] == [
        ("count", 2, 2, ACTOR), ("count", 4, 1, "test:bob")]
    assert runs[1].now == NOW and runs[0].duration_ms >= 0
    current = await get_segment(db, segment.id)
    assert current.last_count == 2 and current.last_count_at == runs[0].at
    sizes = await segment_sizes(db, segment.id)
    assert [count for _, count in sizes] == [4, 2] and sizes[0][0] <= sizes[1][0]
    assert await segment_sizes(db, segment.id, since=runs[0].at + dt.timedelta(seconds=1)) == []


@pytest.mark.parametrize("rounds", [4])
async def test_concurrent_updates_never_store_an_in_segment_cycle(db, rounds) -> None:
    """Two updates at once, each pointing to the other: the cycle check and the write are
    one step, so one of them sees the other's write and is refused."""
    import asyncio

    for round_number in range(rounds):
        a = await make(db, f"A{round_number}")
        b = await make(db, f"B{round_number}")
        results = await asyncio.gather(
            update_segment(db, a.id, expression=f'in segment "B{round_number}"', actor=ACTOR),
            update_segment(db, b.id, expression=f'in segment "A{round_number}"', actor=ACTOR),
            return_exceptions=True)
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1, results
        assert "cycle" in str(refused[0])
        # both stay usable: counted, and deletable once nothing refers to them
        for segment in (a, b):
            await count_segment(db, segment.id, now=NOW, actor=ACTOR)


# --- reading saved definitions -------------------------------------------------------------

async def test_a_big_saved_definition_is_first_read_in_a_worker_then_from_the_cache(
        db, monkeypatch) -> None:
    # Reading a saved JSON form validates it (CPU work): a big one must not be read on the
    # event loop, where it would hold up every other request.
    cities = " or ".join(f'City equals "Town {n}"' for n in range(150)) + ' or City equals "Krakow"'
    segment = await make(db, "Many towns", cities)
    assert len(form_key(segment.json)) > INLINE_SIZE
    expected = await count_segment(db, segment.id, now=NOW, actor=ACTOR)
    assert expected > 0
    json_codec.clear_read_cache()

    def read_here(data):
        raise AssertionError("a big saved form was read in the server's own process")

    with monkeypatch.context() as patch:
        patch.setattr(json_codec, "_read", read_here)
        assert await count_segment(db, segment.id, now=NOW, actor=ACTOR) == expected
        assert read_before(form_key(segment.json)) is not None  # kept for the next reads
