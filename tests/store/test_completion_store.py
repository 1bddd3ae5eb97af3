"""The completion context from the store: names, and the frequent values of the text field
whose value is being typed."""

from __future__ import annotations

import pytest

from dsl.completion import complete
from store.catalog import segment_names
from store.completion import completion_context, frequent_values
from store.contacts import upsert_contacts
from store.segments import create_segment
from tests.store.seed import ACTOR, seed, seed_events

pytestmark = pytest.mark.asyncio


async def test_frequent_values_most_frequent_first(store) -> None:
    await seed(store.db)  # City: Krakow, Warsaw, Krakow, Gdansk, krakow
    await upsert_contacts(store.db, "main", [{"id": "w2", "fields": {"City": "WARSAW"}},
                                             {"id": "w3", "fields": {"City": "Warsaw"}}])
    assert await frequent_values(store.db, "main", "City") == ["Krakow", "Warsaw", "Gdansk"]
    assert await frequent_values(store.db, "main", "City", prefix="w") == ["Warsaw"]
    assert await frequent_values(store.db, "main", "City", limit=1) == ["Krakow"]
    assert await frequent_values(store.db, "main", "Age") == []  # not a text field
    assert await frequent_values(store.db, "main", "Nope") == []
    assert await frequent_values(store.db, "main", "Email") == [
        "anna@example.com", "dan@example.com", "eve@example.com", "fred@example.com"]


async def test_completion_context(store) -> None:
    await seed(store.db)
    await seed_events(store.db)
    await create_segment(store.db, name="Krakow people", expression='City equals "krakow"',
                         actor=ACTOR)
    assert await segment_names(store.db, "main") == ["Krakow people"]
    context = await completion_context(store.db, "main", 'City equals "Kr', 15)
    assert context.values == {"City": ["Krakow"]}
    assert {"MailClick", "MailOpen", "PageVisit"} <= set(context.event_types)
    assert context.lists == ("VIP",) and context.segments == ("Krakow people",)
    assert [s.label for s in complete('City equals "Kr', 15, context)] == ['"Krakow"']
    assert [s.label for s in complete('in segment "k', 13, context)] == ['"Krakow people"']
    plain = await completion_context(store.db, "main")
    assert plain.values == {} and plain.schema.get("City") is not None
