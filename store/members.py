"""A segment's members in chunks: what every bulk operation walks, so that memory stays
flat however large the membership is (one chunk of CHUNK_SIZE documents at a time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from dsl.compiler import MAXIMUM_ORDER
from store.errors import StoreInputError
from store.segments import Segment
from store.selection import Selection, iter_members, pipeline_for

CHUNK_SIZE = 1000


def require_live(segment: Segment) -> None:
    """Work on a segment's members is refused while it is in the bin."""
    if segment.in_bin:
        raise StoreInputError(f"segment {segment.name} is in the bin",
                              suggestion="restore it first")


async def member_chunks(db, database: str, selection: Selection, *, projection: dict,
                        size: int = CHUNK_SIZE) -> AsyncIterator[list[dict]]:
    """The members (projected, plus `_id` and `bucket`) in the maximum's order, `size` at
    a time.

    The order (bucket, then `_id`) is strict, so a member is never handed out twice even
    when the caller's writes move documents ahead of a server cursor that does not
    materialise its results (the Halloween problem): anything not after the last member
    seen is dropped."""
    chunk: list[dict] = []
    last: tuple[int, str] | None = None
    async for document in iter_members(db, database, selection,
                                       projection={**projection, "_id": 1, "bucket": 1}):
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


async def first_members(db, database: str, selection: Selection, *, limit: int,
                        projection: dict, pipeline: list[dict] | None = None) -> list[dict]:
    """The first `limit` members in the maximum's order (a preview's sample); `pipeline`
    as for count_members."""
    if limit <= 0:
        return []
    pipeline = list(pipeline) if pipeline is not None \
        else await pipeline_for(db, database, selection)
    if selection.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    pipeline.append({"$limit": limit})  # with a maximum, the pipeline is sorted already
    pipeline.append({"$project": projection})
    return [document async for document in await db.contacts.aggregate(pipeline)]
