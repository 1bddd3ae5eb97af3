"""Running a prepared query: count, stream, sample, chunk and page its members.

Every function takes a PreparedQuery (store/query/prepare.py) and runs its one plan
(store/query/planner.py); none builds conditions of its own. A plan whose events-side
counts selected more than a few dozen contacts runs as parts (`planner.parts`), read
PARALLEL_PARTS at a time and in the maximum's order, with the maximum applied across them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from dsl.compiler import MAXIMUM_ORDER
from store.collections import CONTACTS
from store.query import planner
from store.query.planner import Part, parts, plan
from store.query.prepare import PreparedQuery

CHUNK_SIZE = 1000
_ID = {"_id": 0, "id": 1}


async def _rows(query: PreparedQuery, pipeline: list[dict]) -> list[dict]:
    return [document async for document in await query.db[CONTACTS].aggregate(pipeline)]


async def _in_turn(query: PreparedQuery, pipelines: list[list[dict]]
                   ) -> AsyncIterator[list[dict]]:
    """Each pipeline's documents, in the order of the pipelines, PARALLEL_PARTS run side
    by side (SecantusDB answers them concurrently: docs/benchmarks.md)."""
    side_by_side = planner.PARALLEL_PARTS
    for start in range(0, len(pipelines), side_by_side):
        for rows in await asyncio.gather(*(_rows(query, pipeline) for pipeline in
                                           pipelines[start:start + side_by_side])):
            yield rows


def count_of(rows: list[dict]) -> int:
    """The count a `{"$count": "n"}` stage answered (no row: none)."""
    return rows[0]["n"] if rows else 0


async def _walk(query: PreparedQuery, split: list[Part], projection: dict,
                after: tuple[int, str] | None = None) -> AsyncIterator[dict]:
    """The members of a plan run as parts, in the maximum's order, up to the maximum;
    with `after` (a projection with `_id` and `bucket`), only those after that key. A part
    whose contacts all precede `after` is skipped, or counted when a maximum needs to know
    how many members come before."""
    remaining = query.maximum
    pipelines, counted = [], []
    for part in split:
        if after is not None and part.last <= after:
            if remaining is None:
                continue
            pipelines.append([*part.pipeline, {"$count": "n"}])
            counted.append(True)
        else:
            pipelines.append([*part.pipeline, {"$sort": dict(MAXIMUM_ORDER)},
                              {"$project": projection}])
            counted.append(False)
    position = 0
    async for rows in _in_turn(query, pipelines):
        if counted[position]:
            remaining -= min(remaining, count_of(rows))
        else:
            for document in rows:
                if remaining is not None:
                    if remaining == 0:
                        return
                    remaining -= 1
                if after is None or (document["bucket"], document["_id"]) > after:
                    yield document
        if remaining == 0:
            return
        position += 1


async def count(query: PreparedQuery) -> int:
    """The number of members."""
    split = await parts(query)
    if split is None:
        async for row in await query.db[CONTACTS].aggregate(
                [*await plan(query), {"$count": "members"}]):
            return row["members"]
        return 0
    total = 0
    async for rows in _in_turn(query, [[*part.pipeline, {"$count": "n"}] for part in split]):
        total += count_of(rows)
        if query.maximum is not None and total >= query.maximum:
            return query.maximum
    return total


async def _ordered(query: PreparedQuery) -> list[dict]:
    """The plan with the members in the maximum's order (bucket, then id): with a maximum
    the plan is sorted already."""
    pipeline = await plan(query)
    if query.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    return pipeline


async def members(query: PreparedQuery, *, projection: dict | None = None
                  ) -> AsyncIterator[dict]:
    """The members in the maximum's order, streamed from a cursor, or part after part
    (default projection: the contact id as `id`)."""
    split = await parts(query)
    if split is not None:
        async for document in _walk(query, split, projection or _ID):
            yield document
        return
    pipeline = await _ordered(query)
    pipeline.append({"$project": projection or _ID})
    async for document in await query.db[CONTACTS].aggregate(pipeline, batchSize=1000):
        yield document


async def first(query: PreparedQuery, *, limit: int, projection: dict | None = None
                ) -> list[dict]:
    """The first `limit` members in the maximum's order (a preview's sample)."""
    if limit <= 0:
        return []
    split = await parts(query)
    if split is not None:
        return await _take(_walk(query, split, projection or _ID), limit)
    pipeline = await _ordered(query)
    pipeline += [{"$limit": limit}, {"$project": projection or _ID}]
    return [document async for document in await query.db[CONTACTS].aggregate(pipeline)]


async def page(query: PreparedQuery, *, after: tuple[int, str] | None, limit: int,
               projection: dict) -> list[dict]:
    """Up to `limit` members after the key (bucket, `_id`) `after`, in the maximum's order,
    each with its `bucket` and `_id` (the next page's key)."""
    split = await parts(query)
    if split is not None:
        return await _take(_walk(query, split, {**projection, "_id": 1, "bucket": 1}, after),
                           limit)
    pipeline = await plan(query)
    if after is not None:  # after a maximum's own sort and limit, before ours
        bucket, key = after
        pipeline.append({"$match": {"$or": [{"bucket": {"$gt": bucket}},
                                            {"bucket": bucket, "_id": {"$gt": key}}]}})
    if query.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    pipeline += [{"$limit": limit}, {"$project": {**projection, "_id": 1, "bucket": 1}}]
    return [document async for document in await query.db[CONTACTS].aggregate(pipeline)]


async def _take(documents: AsyncIterator[dict], limit: int) -> list[dict]:
    taken: list[dict] = []
    if limit <= 0:
        return taken
    async with aclosing(documents):
        async for document in documents:
            taken.append(document)
            if len(taken) >= limit:
                break
    return taken


async def chunks(query: PreparedQuery, *, projection: dict,
                 size: int | None = None) -> AsyncIterator[list[dict]]:
    """The members (projected, plus `_id` and `bucket`) in the maximum's order, `size` at
    a time: what every bulk operation walks, so memory stays flat however large the
    membership is.

    The order (bucket, then `_id`) is strict, so a member is never handed out twice even
    when the caller's writes move documents ahead of a server cursor that does not
    materialise its results (the Halloween problem): anything not after the last member
    seen is dropped."""
    size = size or CHUNK_SIZE
    chunk: list[dict] = []
    last: tuple[int, str] | None = None
    async for document in members(query, projection={**projection, "_id": 1, "bucket": 1}):
        key = (document["bucket"], document["_id"])
        if last is not None and key <= last:
            continue
        last = key
        chunk.append(document)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
