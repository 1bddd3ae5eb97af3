"""The one place live maintenance evaluates a whole segment through the pipeline (a
rebuild after a definition change). When the prepared-query entry of `store/query/` lands,
this is the call to switch."""

from __future__ import annotations

import datetime as dt

from store.selection import Selection, iter_members


async def qualifying_contacts(db, database: str, expression, *, range_from: float,
                              range_to: float, now: dt.datetime) -> dict[str, int]:
    """{contact id: bucket} of the contacts matching `expression` within the range at `now`
    (the maximum is applied by the caller, on these)."""
    selection = Selection.at(expression, now, range_from=range_from, range_to=range_to)
    return {row["id"]: row["bucket"] async for row in iter_members(
        db, database, selection, projection={"_id": 0, "id": 1, "bucket": 1})}
