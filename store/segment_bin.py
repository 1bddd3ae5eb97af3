"""The bin: delete (to the bin), restore, purge, and the dependents that stop a delete.

A segment's dependents are the live segments whose `references` contain it and the
campaigns that target it, whatever their status (a sent campaign records the segment and
version it used; purging those would leave its record pointing at nothing). A segment with
dependents can neither go to the bin nor be purged; the refusal (InUseError) lists them.

The bin is not versioned: going to the bin and coming back changes no attribute of the
definition, so the version stays; `binned_at`/`binned_by` and `restored_at`/`restored_by`
record who did it and when. A segment in the bin gives up its name (another live segment
may take it; restoring is then refused), cannot be changed, cannot be named by a new
`in segment`, and is purged only explicitly, with its versions and runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsl.values import fold
from store.clock import utc_now
from store.collections import CAMPAIGNS, LIVE_SEGMENT, SEGMENTS
from store.errors import ConflictError, InUseError, NameTakenError, StoreInputError
from store.fields import touch_catalog
from store.offload import read_saved_form
from store.query.prepare import prepare
from store.segment_history import delete_history
from store.segment_runs import delete_runs
from store.segments import Segment, live_segment_changed, require_segment


@dataclass(frozen=True)
class Dependent:
    """Something that uses a segment: `kind` "segment" or "campaign"; `status` a
    campaign's status (None for a segment)."""

    kind: str
    id: str
    name: str
    status: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.status})" if self.status else "")



async def dependents(db: AsyncDatabase, segment_id: str) -> list[Dependent]:
    """The live segments that refer to this one directly, then the campaigns targeting it,
    each by name."""
    segments = [Dependent("segment", document["_id"], document["name"])
                async for document in db[SEGMENTS].find(
                    {"references": segment_id, **LIVE_SEGMENT}, {"name": 1})]
    campaigns = [Dependent("campaign", document["_id"], document["name"], document["status"])
                 async for document in db[CAMPAIGNS].find(
                     {"segment_id": segment_id}, {"name": 1, "status": 1})]
    segments.sort(key=lambda dependent: fold(dependent.name))
    campaigns.sort(key=lambda dependent: fold(dependent.name))
    return segments + campaigns


async def _refuse_if_used(db: AsyncDatabase, segment: Segment, doing: str) -> None:
    users = await dependents(db, segment.id)
    if users:
        listed = ", ".join(str(user) for user in users)
        raise InUseError(f"segment {segment.name} cannot be {doing}: it is used by {listed}",
                         users=[str(user) for user in users],
                         suggestion="remove it from those first")


async def delete_segment(db: AsyncDatabase, segment_id: str, *, actor: str) -> Segment:
    """Move a segment to the bin (a segment already there is returned as it is)."""
    segment = await require_segment(db, segment_id)
    if segment.in_bin:
        return segment
    await _refuse_if_used(db, segment, "moved to the bin")
    document = await db[SEGMENTS].find_one_and_update(
        {"_id": segment.id, **LIVE_SEGMENT},
        {"$set": {"in_bin": True, "binned_at": utc_now(), "binned_by": actor}},
        return_document=ReturnDocument.AFTER)
    if document is None:
        return await require_segment(db, segment_id)  # binned meanwhile
    await touch_catalog(db, segment.database)
    await live_segment_changed(db, segment.id)
    return Segment.from_document(document)


async def restore_segment(db: AsyncDatabase, segment_id: str, *, actor: str) -> Segment:
    """Bring a segment back from the bin. Refused while another live segment has its name,
    or when its expression no longer resolves (a segment it names is gone or in the bin)."""
    segment = await require_segment(db, segment_id)
    if not segment.in_bin:
        return segment
    taken = await db[SEGMENTS].find_one(
        {"database": segment.database, "name_folded": fold(segment.name),
         **LIVE_SEGMENT},
        {"name": 1})
    if taken is not None:
        raise NameTakenError(
            f"segment {segment.name} cannot be restored: another segment named {taken['name']} "
            f"(id {taken['_id']}) exists in profile database {segment.database}",
            suggestion="rename or delete that segment first")
    # A check, not an evaluation (its time changes nothing): at the restore's own time.
    restored_at = utc_now()
    parsed = await read_saved_form(segment.json)
    references = list((await prepare(db, segment.database, parsed=parsed, now=restored_at,
                                     own_id=segment.id, own_names=[segment.name])).references)
    try:
        document = await db[SEGMENTS].find_one_and_update(
            {"_id": segment.id, "in_bin": True},
            {"$set": {"in_bin": False, "references": references, "restored_at": restored_at,
                      "restored_by": actor},
             "$unset": {"binned_at": "", "binned_by": ""}},
            return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        raise NameTakenError(f"segment {segment.name} cannot be restored: another segment "
                             "took its name meanwhile",
                             suggestion="rename or delete that segment first") from None
    if document is None:
        raise ConflictError(f"segment {segment.name} was restored or purged meanwhile")
    await touch_catalog(db, segment.database)
    await live_segment_changed(db, segment.id)
    return Segment.from_document(document)


async def purge_segment(db: AsyncDatabase, segment_id: str, *, actor: str) -> None:
    """Remove a segment in the bin for good, with its versions and runs."""
    segment = await require_segment(db, segment_id)
    if not segment.in_bin:
        raise StoreInputError(f"segment {segment.name} is not in the bin",
                              suggestion="move it to the bin first; only the bin is purged")
    await _refuse_if_used(db, segment, "purged")
    result = await db[SEGMENTS].delete_one({"_id": segment.id, "in_bin": True})
    if result.deleted_count:
        await delete_history(db, segment.id)
        await delete_runs(db, segment.id)
