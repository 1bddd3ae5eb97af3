"""Preview: what an expression would select, before anything is saved.

It runs the same checks as saving a segment (so a preview that works saves), then counts
the members and reads the first PREVIEW_SIZE of them in the maximum's order. It writes
nothing, and is not logged as a run (there is no saved segment to log it on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from store import query
from store.fields import DEFAULT_DATABASE

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
                          now: dt.datetime, expression: str | None = None,
                          json: dict | str | None = None, range_from: float = 0,
                          range_to: float = 100, maximum: int | None = None,
                          limit: int = PREVIEW_SIZE) -> Preview:
    """Count and sample the contacts an expression (text or JSON form) selects at `now`
    (required: the edge decides the evaluation time), with a range and a maximum. Errors are raised as on save: language errors with line
    and column for text, StoreInputError for bad settings."""
    prepared = await query.prepare(db, database, expression=expression, json=json,
                                   now=now,
                                   range_from=range_from, range_to=range_to, maximum=maximum)
    count = await query.count(prepared)  # one plan: the count, then the sample
    contacts = await query.first(prepared, limit=min(limit, count), projection=_CONTACT)
    for contact in contacts:
        contact.setdefault("fields", {})
        contact.setdefault("lists", [])
    text, form = prepared.canonical()
    return Preview(count=count, contacts=contacts, expression=text, json=form,
                   now=prepared.now)
