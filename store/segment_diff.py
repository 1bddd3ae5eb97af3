"""How a segment's membership changes between two versions, or between two times.

Both memberships are streamed from the store in the maximum's order (bucket, then contact
id: `store.query.members`), and merged like two sorted files: a contact only in the first stream
*left*, only in the second *entered*, in both *stayed*. Each stream is one aggregation
cursor; Python holds one document of each at a time plus the samples (10 ids of each kind),
so memory does not grow with the segment's size. The sorting happens in the database (the
pipeline's `$sort` on `bucket, _id`, which the `(database, bucket)` index serves for the
bucket part); MongoDB spills a large sort to disk when it must.

Consistency: the two cursors read live data while they run, like any count or export: a
contact written meanwhile can appear in one stream's snapshot and not the other's. The
`in segment` references of both sides resolve to the referenced segments' *current*
definitions (versions are not kept across segments).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from pymongo.asynchronous.database import AsyncDatabase

from store import query
from store.errors import StoreInputError
from store.segment_history import get_version
from store.segments import require_segment

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class MembershipDiff:
    """Counts of contacts that entered, left and stayed, with up to `SAMPLE_SIZE` ids of
    each (the first ones in the maximum's order: a stable, random-looking sample)."""

    entered: int
    left: int
    stayed: int
    entered_sample: tuple[str, ...] = ()
    left_sample: tuple[str, ...] = ()
    stayed_sample: tuple[str, ...] = ()
    # what was compared: versions, or the two evaluation times
    from_version: int | None = None
    to_version: int | None = None
    from_now: dt.datetime | None = None
    to_now: dt.datetime | None = None

    @property
    def before(self) -> int:
        """Members on the `from` side."""
        return self.left + self.stayed

    @property
    def after(self) -> int:
        """Members on the `to` side."""
        return self.entered + self.stayed


@dataclass
class _Tally:
    count: int = 0
    sample: list[str] = field(default_factory=list)

    def add(self, contact_id: str, size: int) -> None:
        self.count += 1
        if len(self.sample) < size:
            self.sample.append(contact_id)


async def diff_queries(before: query.PreparedQuery, after: query.PreparedQuery, *,
                       sample: int = SAMPLE_SIZE) -> MembershipDiff:
    """Who enters, leaves and stays between the members of `before` and of `after`."""
    entered, left, stayed = _Tally(), _Tally(), _Tally()
    old = _ordered(query.members(before, projection=_KEY))
    new = _ordered(query.members(after, projection=_KEY))
    a = await anext(old, None)
    b = await anext(new, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a < b):
            left.add(a[1], sample)
            a = await anext(old, None)
        elif a is None or b < a:
            entered.add(b[1], sample)
            b = await anext(new, None)
        else:
            stayed.add(a[1], sample)
            a, b = await anext(old, None), await anext(new, None)
    return MembershipDiff(entered.count, left.count, stayed.count, tuple(entered.sample),
                          tuple(left.sample), tuple(stayed.sample),
                          from_now=before.now, to_now=after.now)


_KEY = {"_id": 0, "id": 1, "bucket": 1}


async def _ordered(members: AsyncIterator[dict]) -> AsyncIterator[tuple[int, str]]:
    """(bucket, id) keys, checked to arrive in strictly increasing order (the merge
    depends on it). Contact ids order by code point in Python and by UTF-8 bytes in
    MongoDB: the same order."""
    previous = None
    async for member in members:
        key = (member["bucket"], member["id"])
        if previous is not None and key <= previous:
            raise RuntimeError(f"members arrived out of order ({previous} then {key})")
        previous = key
        yield key


async def diff_segment_versions(db: AsyncDatabase, segment_id: str, from_version: int,
                                to_version: int, *, now: dt.datetime,
                                sample: int = SAMPLE_SIZE) -> MembershipDiff:
    """Members of version `from_version` against `to_version` of a saved segment, both
    evaluated at the same `now`."""
    segment = await require_segment(db, segment_id)
    old = await get_version(db, segment.id, from_version)
    new = await get_version(db, segment.id, to_version)
    before = await query.prepare_segment(db, segment, now=now, definition=old.definition)
    after = await query.prepare_segment(db, segment, now=before.now,
                                        definition=new.definition)
    diff = await diff_queries(before, after, sample=sample)
    return _with(diff, from_version=from_version, to_version=to_version)


async def diff_segment_times(db: AsyncDatabase, segment_id: str, from_now: dt.datetime,
                             to_now: dt.datetime, *, version: int | None = None,
                             sample: int = SAMPLE_SIZE) -> MembershipDiff:
    """Members of one definition (the current one, or `version`) evaluated at `from_now`
    against `to_now`: what the relative windows (`in last 30 days`, `today`) change on the
    data as it is now."""
    if from_now is None or to_now is None:
        raise StoreInputError("a diff in time needs both times")
    segment = await require_segment(db, segment_id)
    definition = segment.definition if version is None \
        else (await get_version(db, segment.id, version)).definition
    before = await query.prepare_segment(db, segment, now=from_now, definition=definition)
    diff = await diff_queries(before, before.at(to_now), sample=sample)
    shown = version if version is not None else segment.version
    return _with(diff, from_version=shown, to_version=shown)


def _with(diff: MembershipDiff, **changes) -> MembershipDiff:
    return replace(diff, **changes)
