"""The one place live maintenance evaluates a whole segment through the pipeline (a
rebuild after a definition change), through the one evaluation entry."""

from __future__ import annotations

import dataclasses
import datetime as dt

from store import query
from store.segment_definition import Definition


async def qualifying_contacts(db, document: dict, *, now: dt.datetime) -> dict[str, int]:
    """{contact id: bucket} of the contacts the saved segment `document` selects within its
    range at `now` (the maximum is applied by the caller, on these)."""
    definition = dataclasses.replace(Definition.from_document(document), maximum=None)
    prepared = await query.prepare(db, document["database"], definition=definition, now=now,
                                   own_id=document["_id"])
    return {row["id"]: row["bucket"] async for row in query.members(
        prepared, projection={"_id": 0, "id": 1, "bucket": 1})}
