"""A plan whose events-side counts selected many contacts runs as parts
(store/query/planner.py `parts`): each part's `_id $in` holds at most ID_CHUNK ids, in the
maximum's order, and count, members, first and page give what the one pipeline gives.
(tests/store/test_differential.py proves the answers against the reference evaluator with 1
and 3 ids per part; this file checks the split itself.)"""

from __future__ import annotations

import pytest
import pytest_asyncio

from dsl.values import bucket_of
from store import query
from store.events import track_events
from store.query import planner
from tests.store.seed import NOW, seed

pytestmark = pytest.mark.asyncio

SEGMENT = "event Purchase occurred where price >= 5"


@pytest_asyncio.fixture
async def db(store):
    await seed(store.db, contacts=[{"id": f"c{n}"} for n in range(40)])
    report = await track_events(store.db, "main", [
        {"contact": f"c{n}", "type": "Purchase", "time": "2024-05-20T10:00:00Z",
         "attributes": {"price": n}} for n in range(40)])
    assert not report.rejected
    return store.db


def _ids(part: planner.Part) -> list[str]:
    return part.pipeline[0]["$match"]["_id"]["$in"]


async def test_the_ids_are_split_in_the_maximum_order_and_the_range(db, monkeypatch) -> None:
    monkeypatch.setattr(planner, "ID_CHUNK", 4)
    prepared = await query.prepare(db, "main", expression=SEGMENT, now=NOW,
                                   range_from=10, range_to=90)
    split = await planner.parts(prepared)
    keys = [(bucket_of("main", key.removeprefix("main:")), key)
            for part in split for key in _ids(part)]
    assert keys == sorted(keys)
    assert {key for _, key in keys} == {
        f"main:c{n}" for n in range(5, 40) if 1000 <= bucket_of("main", f"c{n}") < 9000}
    assert all(len(_ids(part)) <= 4 for part in split) and len(split) >= 5
    assert [part.last for part in split] == [
        (bucket_of("main", _ids(part)[-1].removeprefix("main:")), _ids(part)[-1])
        for part in split]
    assert all(part.pipeline[1:] == split[0].pipeline[1:] for part in split)


async def test_a_few_ids_stay_one_pipeline(db) -> None:
    prepared = await query.prepare(db, "main", expression=SEGMENT, now=NOW)
    assert await planner.parts(prepared) is None  # 35 ids, at most ID_CHUNK (50)
    with_maximum_0 = await query.prepare(db, "main", expression=SEGMENT, now=NOW, maximum=0)
    assert await planner.parts(with_maximum_0) is None


@pytest.mark.parametrize("maximum", [None, 1, 7, 100])
@pytest.mark.parametrize("side_by_side", [8, 2])
async def test_parts_answer_as_one_pipeline(db, monkeypatch, maximum, side_by_side) -> None:
    async def answers():
        prepared = await query.prepare(db, "main", expression=SEGMENT, now=NOW,
                                       range_from=5, range_to=95, maximum=maximum)
        members = [row["id"] async for row in query.members(prepared)]
        pages, after = [], None
        while rows := await query.page(prepared, after=after, limit=3, projection={"id": 1}):
            pages.append([row["id"] for row in rows])
            after = (rows[-1]["bucket"], rows[-1]["_id"])
        first = [row["id"] for row in await query.first(prepared, limit=5)]
        return await query.count(prepared), members, first, pages, await planner.parts(prepared)

    expected = [contact for _, contact in sorted(
        (bucket_of("main", f"c{n}"), f"c{n}") for n in range(5, 40)
        if 500 <= bucket_of("main", f"c{n}") < 9500)][:maximum]
    count, members, first, pages, split = await answers()
    assert split is None and count == len(members) and members == expected
    assert first == expected[:5] and sum(pages, []) == expected
    monkeypatch.setattr(planner, "ID_CHUNK", 3)
    monkeypatch.setattr(planner, "PARALLEL_PARTS", side_by_side)
    *parted, split = await answers()
    assert split is not None and len(split) > side_by_side
    assert parted == [count, members, first, pages]
