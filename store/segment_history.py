"""The update log of a segment: one numbered version per change, in `segment_versions`.

`{_id: "<segment id>:<version>", segment, database, version, at, by, changed: [attribute...],
note, definition: {name, description, tags, access_groups, expression, json, range_from,
range_to, maximum}}`.

The segment document is the truth and carries its current version's `at`/`by`/`changed`/
`note`; a version document is written from it with `$setOnInsert` right after the segment
changes. So a version document is always exactly what the segment was at that version, and
one lost to a crash between the two writes is rewritten by the next update (which records
the version it starts from) or by reading the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from store.collections import SEGMENT_VERSIONS, SEGMENTS
from store.errors import NotFoundError
from store.segment_definition import Definition


@dataclass(frozen=True)
class SegmentVersion:
    segment_id: str
    version: int
    at: dt.datetime
    by: str
    changed: tuple[str, ...]  # the attributes this version changed; all of them for version 1
    note: str | None
    definition: Definition

    @classmethod
    def from_document(cls, document: dict) -> SegmentVersion:
        return cls(segment_id=document["segment"], version=document["version"],
                   at=document["at"], by=document["by"], changed=tuple(document["changed"]),
                   note=document.get("note"),
                   definition=Definition.from_document(document["definition"]))


def version_key(segment_id: str, version: int) -> str:
    return f"{segment_id}:{version}"


def _version_document(segment: dict) -> dict:
    change = segment.get("change", {})
    return {"segment": segment["_id"], "database": segment["database"],
            "version": segment["version"], "at": segment["updated_at"],
            "by": segment["updated_by"], "changed": change.get("changed", []),
            "note": change.get("note"),
            "definition": Definition.from_document(segment).to_document()}


async def record_version(db: AsyncDatabase, segment: dict) -> None:
    """Keep the version a segment document is at (idempotent: an existing one is kept)."""
    await db[SEGMENT_VERSIONS].update_one(
        {"_id": version_key(segment["_id"], segment["version"])},
        {"$setOnInsert": _version_document(segment)}, upsert=True)


async def segment_history(db: AsyncDatabase, segment_id: str) -> list[SegmentVersion]:
    """Every version of a segment, oldest first (NotFoundError if there is no segment)."""
    segment = await db[SEGMENTS].find_one({"_id": segment_id})
    if segment is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    cursor = db[SEGMENT_VERSIONS].find({"segment": segment_id}).sort("version", ASCENDING)
    versions = [SegmentVersion.from_document(document) async for document in cursor]
    if not versions or versions[-1].version < segment["version"]:
        await record_version(db, segment)  # lost between the two writes of an update
        versions.append(SegmentVersion.from_document(_version_document(segment)))
    return versions


async def get_version(db: AsyncDatabase, segment_id: str, version: int) -> SegmentVersion:
    """One version of a segment, as it was saved (NotFoundError if there is none)."""
    document = await db[SEGMENT_VERSIONS].find_one({"_id": version_key(segment_id, version)})
    if document is None:
        segment = await db[SEGMENTS].find_one({"_id": segment_id})
        if segment is None:
            raise NotFoundError(f"no segment with id {segment_id}")
        if segment["version"] != version:
            raise NotFoundError(f"segment {segment['name']} has no version {version}",
                                suggestion=f"its versions are 1 to {segment['version']}")
        await record_version(db, segment)
        document = _version_document(segment)
    return SegmentVersion.from_document(document)


async def delete_history(db: AsyncDatabase, segment_id: str) -> None:
    await db[SEGMENT_VERSIONS].delete_many({"segment": segment_id})
