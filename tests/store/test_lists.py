"""Static lists: creation, adding and removing by id, members page by page, and copying a
segment's members into a list in chunks."""

from __future__ import annotations

import pytest
import pytest_asyncio

from store.clock import utc_now
from store.contacts import get_contact
from store.errors import NameTakenError, NotFoundError, StoreInputError
from store.lists import (add_to_list, count_list_members, create_list, find_list, list_lists,
                         list_members, remove_from_list)
from store.member_actions import copy_to_list
from store.query import run as members_module
from store.segment_runs import list_runs
from store.segments import create_segment
from tests.store.seed import ACTOR, seed

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(store):
    await seed(store.db)
    return store.db


async def test_names_are_unique_per_database_ignoring_case(db) -> None:
    created = await create_list(db, "main", " Newsletter ", actor=ACTOR)
    assert created.name == "Newsletter"
    with pytest.raises(NameTakenError, match="a list named Newsletter already exists"):
        await create_list(db, "main", "NEWSLETTER", actor=ACTOR)
    with pytest.raises(NameTakenError, match="VIP"):  # made by the importer
        await create_list(db, "main", "vip", actor=ACTOR)
    with pytest.raises(StoreInputError, match="non-empty"):
        await create_list(db, "main", "  ", actor=ACTOR)
    with pytest.raises(StoreInputError, match="no profile database"):
        await create_list(db, "elsewhere", "X", actor=ACTOR)
    assert [item.name for item in await list_lists(db, "main")] == ["Newsletter", "VIP"]
    assert await find_list(db, "main", "newsletter") == "Newsletter"
    with pytest.raises(NotFoundError, match="no list named Nope"):
        await find_list(db, "main", "Nope")


async def test_add_and_remove_report_unknown_ids(db) -> None:
    await create_list(db, "main", "Winners", actor=ACTOR)
    added = await add_to_list(db, "main", "winners", ["c1", "c2", "ghost", "c1"])
    assert (added.changed, added.unchanged, added.unknown) == (2, 0, ["ghost"])
    again = await add_to_list(db, "main", "Winners", ["c2", "c3"])
    assert (again.changed, again.unchanged, again.unknown) == (1, 1, [])
    assert (await get_contact(db, "main", "c1"))["lists"] == ["VIP", "Winners"]
    removed = await remove_from_list(db, "main", "Winners", ["c1", "c4", "nobody"])
    assert (removed.changed, removed.unchanged, removed.unknown) == (1, 1, ["nobody"])
    assert await count_list_members(db, "main", "Winners") == 2
    with pytest.raises(NotFoundError):
        await add_to_list(db, "main", "Losers", ["c1"])
    with pytest.raises(StoreInputError, match="not one text"):
        await add_to_list(db, "main", "Winners", "c1")


async def test_members_page_by_page(db) -> None:
    await create_list(db, "main", "All", actor=ACTOR)
    await add_to_list(db, "main", "All", ["c6", "c1", "c3", "c5", "c2"])
    ids, after = [], None
    while True:
        page = await list_members(db, "main", "All", first=2, after=after)
        ids += [member["id"] for member in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert ids == ["c1", "c2", "c3", "c5", "c6"]
    page = await list_members(db, "main", "All", first=1)
    assert page.items[0]["fields"]["City"] == "Krakow" and "All" in page.items[0]["lists"]


async def test_copy_segment_members_into_a_list_in_chunks(db, monkeypatch) -> None:
    monkeypatch.setattr(members_module, "CHUNK_SIZE", 2)
    segment = await create_segment(db, name="Krakow", expression='City equals "krakow"',
                                   actor=ACTOR)
    await create_list(db, "main", "Krakow people", actor=ACTOR)
    await add_to_list(db, "main", "Krakow people", ["c1"])
    report = await copy_to_list(db, segment.id, "krakow PEOPLE", now=utc_now(), actor="test:bob")
    assert (report.members, report.changed) == (3, 2)
    page = await list_members(db, "main", "Krakow people")
    assert sorted(member["id"] for member in page.items) == ["c1", "c3", "c5"]
    fresh = await copy_to_list(db, segment.id, "Brand new", now=utc_now(), actor=ACTOR)  # made when missing
    assert fresh.changed == 3 and await find_list(db, "main", "brand new") == "Brand new"
    runs = await list_runs(db, segment.id)
    assert [(run.purpose, run.count) for run in runs] == [("copy-to-list", 3)] * 2
