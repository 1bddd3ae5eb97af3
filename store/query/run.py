"""Running a prepared query: count, stream, sample, chunk and page its members.

Every function takes a PreparedQuery (store/query/prepare.py) and runs its one plan
(store/query/planner.py); none builds conditions of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from dsl.compiler import MAXIMUM_ORDER
from store.collections import CONTACTS
from store.query.planner import plan
from store.query.prepare import PreparedQuery

CHUNK_SIZE = 1000
_ID = {"_id": 0, "id": 1}


async def count(query: PreparedQuery) -> int:
    """The number of members."""
    async for row in await query.db[CONTACTS].aggregate(
            [*await plan(query), {"$count": "members"}]):
        return row["members"]
    return 0


async def _ordered(query: PreparedQuery) -> list[dict]:
    """The plan with the members in the maximum's order (bucket, then id): with a maximum
    the plan is sorted already."""
    pipeline = await plan(query)
    if query.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    return pipeline


async def members(query: PreparedQuery, *, projection: dict | None = None
                  ) -> AsyncIterator[dict]:
    """The members in the maximum's order, streamed from a cursor (default projection: the
    contact id as `id`)."""
    pipeline = await _ordered(query)
    pipeline.append({"$project": projection or _ID})
    async for document in await query.db[CONTACTS].aggregate(pipeline, batchSize=1000):
        yield document


async def first(query: PreparedQuery, *, limit: int, projection: dict | None = None
                ) -> list[dict]:
    """The first `limit` members in the maximum's order (a preview's sample)."""
    if limit <= 0:
        return []
    pipeline = await _ordered(query)
    pipeline += [{"$limit": limit}, {"$project": projection or _ID}]
    return [document async for document in await query.db[CONTACTS].aggregate(pipeline)]


async def page(query: PreparedQuery, *, after: tuple[int, str] | None, limit: int,
               projection: dict) -> list[dict]:
    """Up to `limit` members after the key (bucket, `_id`) `after`, in the maximum's order,
    each with its `bucket` and `_id` (the next page's key)."""
    pipeline = await plan(query)
    if after is not None:  # after a maximum's own sort and limit, before ours
        bucket, key = after
        pipeline.append({"$match": {"$or": [{"bucket": {"$gt": bucket}},
                                            {"bucket": bucket, "_id": {"$gt": key}}]}})
    if query.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    pipeline += [{"$limit": limit}, {"$project": {**projection, "_id": 1, "bucket": 1}}]
    return [document async for document in await query.db[CONTACTS].aggregate(pipeline)]


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
