"""Listing and searching segments, a page at a time (what the Relay connection sits on).

Sorted by `name_folded` then `_id` (the index `(database, in_bin, name_folded, _id)`), with
keyset cursors: a page starts strictly after the `(name_folded, _id)` its cursor encodes.
"""

from __future__ import annotations

import re

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from dsl.values import fold
from store.collections import SEGMENTS
from store.errors import StoreInputError
from store.fields import DEFAULT_DATABASE, validate_database_name
from store.pages import DEFAULT_PAGE, Page, check_first, decode_cursor, encode_cursor
from store.segments import Segment

_CURSOR = "segment"
MAX_SEARCH_LENGTH = 200


def segment_cursor(segment: Segment) -> str:
    return encode_cursor(_CURSOR, fold(segment.name), segment.id)


async def list_segments(db: AsyncDatabase, database: str = DEFAULT_DATABASE, *,
                        search: str | None = None, tag: str | None = None,
                        in_bin: bool | None = False, first: int = DEFAULT_PAGE,
                        after: str | None = None) -> Page[Segment]:
    """The segments of a database by name: live ones (`in_bin` False), the bin (True) or
    both (None); `search` keeps names containing it, `tag` those with that tag (both
    ignoring letter case); `first` (at most 200) after the cursor `after`."""
    validate_database_name(database)
    first = check_first(first)
    query: dict = {"database": database}
    if in_bin is not None:
        query["in_bin"] = bool(in_bin)
    if search:
        if not isinstance(search, str) or len(search) > MAX_SEARCH_LENGTH:
            raise StoreInputError(f"search for at most {MAX_SEARCH_LENGTH} characters of a name")
        query["name_folded"] = {"$regex": re.escape(fold(search))}
    if tag:
        if not isinstance(tag, str):
            raise StoreInputError(f"a tag is text, not {tag!r}")
        query["tags_folded"] = fold(tag.strip())
    if after is not None:
        name, segment_id = decode_cursor(_CURSOR, after, 2)
        query["$or"] = [{"name_folded": {"$gt": name}},
                        {"name_folded": name, "_id": {"$gt": segment_id}}]
    cursor = (db[SEGMENTS].find(query)
              .sort([("name_folded", ASCENDING), ("_id", ASCENDING)]).limit(first + 1))
    segments = [Segment.from_document(document) async for document in cursor]
    has_next = len(segments) > first
    segments = segments[:first]
    return Page(items=segments, cursors=[segment_cursor(segment) for segment in segments],
                has_next=has_next)
