"""explain_contact on stored data: it says a contact is a member exactly when the compiled
pipeline selects it (store.query.count / members), ranges, maxima and segments included."""

from __future__ import annotations

import itertools

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.errors import SegmentErrors
from dsl.explain import ExplainKind
from store import query
from store.errors import NotFoundError
from store.explain import explain_contact, explain_saved
from store.segments import create_segment
from tests.dsl.strategies import typed_expressions
from tests.store.oracle import ATTRIBUTES, EVENT_TYPES, FIELDS, LISTS, NOW, load
from tests.store.seed import ACTOR, seed, seed_events
from tests.store.seed import NOW as SEED_NOW
from tests.store.test_differential import contacts_strategy, event_strategy, memberships

selections = st.fixed_dictionaries({
    "range": st.sampled_from([(0, 100), (0, 50), (20, 70)]),
    "maximum": st.sampled_from([None, None, 0, 1, 3])})


@pytest.fixture(scope="module")
def engine(sync_store):
    runner, store = sync_store
    return runner, store, itertools.count()


@settings(max_examples=max(10, settings.default.max_examples // 3), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(contacts=contacts_strategy, lists=memberships,
       events=st.lists(event_strategy, max_size=16),
       exprs=st.lists(typed_expressions(FIELDS, EVENT_TYPES, ATTRIBUTES, LISTS), min_size=3,
                      max_size=3), selection=selections)
def test_explain_agrees_with_the_pipeline(engine, contacts, lists, events, exprs, selection):
    runner, store, counter = engine
    database = f"x{next(counter)}"
    runner.run(load(store, database, contacts, lists, events))
    range_from, range_to = selection["range"]
    for expr in exprs:
        try:
            chosen = runner.run(query.prepare(store.db, database, parsed=expr, now=NOW,
                                              range_from=range_from, range_to=range_to,
                                              maximum=selection["maximum"]))
        except SegmentErrors:
            continue  # refused on every path, tested elsewhere
        everyone = runner.run(query.prepare(store.db, database, parsed=expr, now=NOW))

        async def run():
            members = [row["id"] async for row in query.members(chosen)]
            matching = [row["id"] async for row in query.members(everyone)]
            assert await query.count(chosen) == len(members)
            answers = []
            for n in range(len(contacts)):
                contact_id = f"c{n}"
                answers.append((contact_id, await explain_contact(chosen, contact_id),
                                await explain_contact(everyone, contact_id)))
            return set(members), set(matching), answers

        members, matching, answers = runner.run(run())
        for contact_id, with_settings, plain in answers:
            assert with_settings.member == (contact_id in members), (expr, contact_id)
            assert plain.tree.held == plain.member == (contact_id in matching), (expr, contact_id)
            assert with_settings.tree.held == plain.tree.held


# --- saved segments --------------------------------------------------------------------------

@pytest_asyncio.fixture
async def db(store):
    await seed(store.db)
    await seed_events(store.db)
    return store.db


@pytest.mark.asyncio
async def test_a_saved_segment_by_name_with_range_and_maximum(db) -> None:
    segment = await create_segment(db, name="Adults", expression="Age >= 30", maximum=2,
                                   actor=ACTOR)
    prepared = await query.prepare_segment(db, segment, now=SEED_NOW)
    members = [row["id"] async for row in query.members(prepared)]
    assert len(members) == 2
    for contact_id in ("c1", "c2", "c3", "c4", "c5", "c6"):
        explanation = await explain_saved(db, "main", "adults", contact_id, now=SEED_NOW)
        assert explanation.segment_name == "Adults" and explanation.segment_version == 1
        assert explanation.member == (contact_id in members)
        if explanation.tree.held:
            assert explanation.within_maximum == (contact_id in members)
        else:
            assert explanation.within_maximum is None
    c3 = await explain_saved(db, "main", segment.id, "c3", now=SEED_NOW)
    assert not c3.tree.held and c3.tree.value == 22 and c3.tree.value_text == "22"


@pytest.mark.asyncio
async def test_a_range_that_leaves_the_contact_out(db) -> None:
    explanation = await explain_contact(await query.prepare(
        db, "main", expression="Age > 0", now=SEED_NOW, range_from=0, range_to=0.01), "c1")
    assert explanation.tree.held and not explanation.in_range and not explanation.member


@pytest.mark.asyncio
async def test_in_segment_and_events(db) -> None:
    await create_segment(db, name="Clickers", expression="event MailClick occurred in last 30 days",
                         actor=ACTOR)
    explanation = await explain_contact(await query.prepare(
        db, "main", expression='in segment "clickers"', now=SEED_NOW), "c1")
    assert explanation.member
    (segment,) = [node for node in explanation.tree.walk() if node.kind is ExplainKind.SEGMENT]
    (event,) = segment.children
    assert (event.event_type, event.events, event.in_window, event.matching) == (
        "MailClick", 1, 1, 1)
    nobody = await explain_contact(await query.prepare(
        db, "main", expression='in segment "clickers"', now=SEED_NOW), "c2")
    assert not nobody.member and nobody.tree.children[0].events == 0


@pytest.mark.asyncio
async def test_unknown_contact_and_segment(db) -> None:
    missing = await explain_contact(await query.prepare(
        db, "main", expression="Age > 1", now=SEED_NOW), "nobody")
    assert not missing.found and missing.tree is None and not missing.member
    with pytest.raises(NotFoundError):
        await explain_saved(db, "main", "No such segment", "c1", now=SEED_NOW)
    with pytest.raises(SegmentErrors) as raised:
        await query.prepare(db, "main", expression="Citty equals 1", now=SEED_NOW)
    assert "unknown field Citty" in str(raised.value) and "^" in str(raised.value)
