"""The recipients a campaign's send froze (`campaign_recipients`), read back page by page
or exported as CSV.

`{_id: "<campaign id>:<contact id>", campaign, database, contact, address, segment_version,
now, at}`: `address` is the Email or MobilePhone value at the send (None for push).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from store.campaigns import ADDRESS_FIELDS, Campaign, require_campaign
from store.collections import CAMPAIGN_RECIPIENTS
from store.csv_out import CsvChunks, cell
from store.pages import Page, check_first, decode_cursor, encode_cursor

_CURSOR = "recipient"
_BATCH = 1000


@dataclass(frozen=True)
class Recipient:
    contact_id: str
    address: str | None
    segment_version: int
    now: dt.datetime


def _recipient(document: dict) -> Recipient:
    return Recipient(contact_id=document["contact"], address=document.get("address"),
                     segment_version=document["segment_version"], now=document["now"])


async def list_recipients(db: AsyncDatabase, campaign_id: str, *, first: int = 100,
                          after: str | None = None) -> Page[Recipient]:
    """A page of a campaign's recipients, by contact id (empty before it is sent)."""
    campaign = await require_campaign(db, campaign_id)
    first = check_first(first)
    query: dict = {"campaign": campaign.id}
    if after is not None:
        (contact_id,) = decode_cursor(_CURSOR, after, 1)
        query["_id"] = {"$gt": f"{campaign.id}:{contact_id}"}
    cursor = (db[CAMPAIGN_RECIPIENTS].find(query).sort("_id", ASCENDING).limit(first + 1))
    recipients = [_recipient(document) async for document in cursor]
    has_next = len(recipients) > first
    recipients = recipients[:first]
    return Page(items=recipients,
                cursors=[encode_cursor(_CURSOR, item.contact_id) for item in recipients],
                has_next=has_next)


def _header(campaign: Campaign) -> list[str]:
    field = ADDRESS_FIELDS[campaign.channel]
    return ["id"] + ([field] if field else [])


async def export_recipients_csv(db: AsyncDatabase, campaign_id: str) -> AsyncIterator[str]:
    """A campaign's recipients as CSV text in chunks: `id`, then the address column of its
    channel (`Email`, `MobilePhone`; none for push), by contact id."""
    campaign = await require_campaign(db, campaign_id)
    chunks = CsvChunks()
    chunks.add(_header(campaign))
    with_address = ADDRESS_FIELDS[campaign.channel] is not None
    cursor = (db[CAMPAIGN_RECIPIENTS].find({"campaign": campaign.id},
                                           {"contact": 1, "address": 1})
              .sort("_id", ASCENDING).batch_size(_BATCH))
    async for document in cursor:
        row = [document["contact"]] + ([cell(document.get("address"))] if with_address else [])
        text = chunks.add(row)
        if text:
            yield text
    text = chunks.flush()
    if text:
        yield text


async def write_recipients_csv(db: AsyncDatabase, campaign_id: str, out: BinaryIO) -> int:
    """Write a campaign's recipients as UTF-8 CSV to a binary file; the bytes written."""
    written = 0
    async for text in export_recipients_csv(db, campaign_id):
        data = text.encode("utf-8")
        out.write(data)
        written += len(data)
    return written
