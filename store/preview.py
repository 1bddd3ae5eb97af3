"""Preview: what an expression would select, before anything is saved.

It runs the same checks as saving a segment (so a preview that works saves), then counts
the members and reads the first PREVIEW_SIZE of them in the maximum's order. It writes
nothing, and is not logged as a run (there is no saved segment to log it on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from store.fields import DEFAULT_DATABASE
from store.members import first_members
from store.segment_definition import (canonical, check_expression, normalize_maximum,
                                      normalize_range, parse_off_loop)
from store.selection import Selection, count_members, pipeline_for

PREVIEW_SIZE = 100
_CONTACT = {"_id": 0, "id": 1, "fields": 1, "lists": 1}


@dataclass(frozen=True)
class Preview:
    """`count` members; `contacts` the first ones (`{"id", "fields", "lists"}`);
    `expression`/`json` the canonical text and JSON form of what was previewed; `now` the
    evaluation time used."""

    count: int
    contacts: list[dict]
    expression: str
    json: dict
    now: dt.datetime


async def preview_segment(db: AsyncDatabase, database: str = DEFAULT_DATABASE, *,
                          expression: str | None = None, json: dict | str | None = None,
                          range_from: float = 0, range_to: float = 100,
                          maximum: int | None = None, now: dt.datetime | None = None,
                          limit: int = PREVIEW_SIZE) -> Preview:
    """Count and sample the contacts an expression (text or JSON form) selects at `now`,
    with a range and a maximum. Errors are raised as on save: language errors with line
    and column for text, StoreInputError for bad settings."""
    low, high = normalize_range(range_from, range_to)
    maximum = normalize_maximum(maximum)
    expr, source = await parse_off_loop(expression, json)
    await check_expression(db, database, expr, source=source)
    selection = Selection.at(expr, now, range_from=low, range_to=high, maximum=maximum)
    pipeline = await pipeline_for(db, database, selection)  # one evaluation: count, then sample
    count = await count_members(db, database, selection, pipeline=pipeline)
    contacts = await first_members(db, database, selection, limit=min(limit, count),
                                   projection=_CONTACT, pipeline=pipeline)
    for contact in contacts:
        contact.setdefault("fields", {})
        contact.setdefault("lists", [])
    text, form = canonical(expr)
    return Preview(count=count, contacts=contacts, expression=text, json=form,
                   now=selection.now)
