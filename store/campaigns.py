"""Campaigns: a name, a channel and a target segment; sending freezes the recipients.

`campaigns`: `{_id: <token_hex(8)>, database, name, name_folded, channel, segment_id,
status: "draft" | "sending" | "sent" | "failed", segment_version, now, recipient_count,
created_at, created_by, send_started_at, heartbeat_at, sent_at, sent_by, failure}`; names
unique per database ignoring case.

Sending (`send_campaign`):
1. `draft` → `sending`, atomically, recording the segment version and the evaluation time
   `now` the send uses. Only one sender wins this step; a sender that finds the campaign
   already `sending` (a concurrent send, or a retry after a crash) continues that send with
   the recorded version and `now`, so it selects exactly the same members.
2. The members are streamed from that version's definition in chunks, and each one that
   can receive the channel is inserted into `campaign_recipients` under
   `_id: "<campaign id>:<contact id>"`: a resumed or concurrent send never adds anyone twice.
3. `sending` → `sent` with `recipient_count` counted from the stored recipients.
A sent campaign is returned as it is: sending it again changes nothing.

Who can receive what is dsl/consent.py's rule, the one `can receive C` tests: email needs a
value in `Email`, SMS a value in `MobilePhone` ("a value" as the language means it: not
missing, not null, not empty text); push has no address field in the standard schema
(device tokens belong to the delivery system). A contact unsubscribed from the channel, or
suppressed for it (email: a hard bounce or a spam complaint), is skipped too. The campaign
records how many members were skipped for each reason (`skipped`: no_address,
unsubscribed, hard_bounce, spam_complaint), counted over the whole send.

A send that fails midway (the store went away, a query ran out of time) ends `failed`
with the reason in `failure`, and raises SendFailedError; one whose server died leaves no
one to say so, so a `sending` campaign whose sender has not been heard of for
SEND_STALE_SECONDS (`heartbeat_at`, renewed each chunk) reads as `failed` too. Sending a
failed campaign again resumes it with the version and `now` it started with (step 2 adds
no one twice), so a retry after the cause is fixed finishes exactly the send it began.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, replace

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dsl.consent import ADDRESS_FIELDS, CHANNELS, SKIP_REASONS, skip_reason
from dsl.values import fold, to_millis
from store import query
from store.clock import utc_now
from store.collections import CAMPAIGN_RECIPIENTS, CAMPAIGNS
from store.errors import DUPLICATE_KEY, NameTakenError, NotFoundError, StoreInputError
from store.fields import DEFAULT_DATABASE
from store.segment_definition import normalize_name
from store.segment_history import get_version
from store.segment_runs import timed_run
from store.segments import require_live, require_segment

STATUSES = ("draft", "sending", "sent", "failed")
SEND_STALE_SECONDS = 120  # no heartbeat for this long: the sender is gone


@dataclass(frozen=True)
class Campaign:
    id: str
    database: str
    name: str
    channel: str
    segment_id: str
    status: str
    created_at: dt.datetime
    created_by: str
    segment_version: int | None = None
    now: dt.datetime | None = None
    recipient_count: int | None = None
    send_started_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    sent_by: str | None = None
    failure: str | None = None
    skipped: dict[str, int] | None = None  # reason -> members skipped (once sent)

    @classmethod
    def from_document(cls, document: dict) -> Campaign:
        return cls(id=document["_id"], database=document["database"], name=document["name"],
                   channel=document["channel"], segment_id=document["segment_id"],
                   status=document["status"], created_at=document["created_at"],
                   created_by=document["created_by"],
                   segment_version=document.get("segment_version"), now=document.get("now"),
                   recipient_count=document.get("recipient_count"),
                   send_started_at=document.get("send_started_at"),
                   sent_at=document.get("sent_at"), sent_by=document.get("sent_by"),
                   failure=document.get("failure"), skipped=document.get("skipped"))


class SendFailedError(StoreInputError):
    """A send stopped midway; `campaign` is the campaign as stored, `failed` with the
    reason. Sending it again resumes it."""

    def __init__(self, message: str, campaign: Campaign) -> None:
        super().__init__(message, suggestion="send it again to resume: no recipient is "
                                             "added twice")
        self.campaign = campaign




def _channel(channel: object) -> str:
    text = channel.lower() if isinstance(channel, str) else channel
    if text not in CHANNELS:
        raise StoreInputError(f"{channel!r} is not a channel",
                              suggestion="the channels are " + ", ".join(CHANNELS))
    return text


async def create_campaign(db: AsyncDatabase, *, name: str, channel: str, segment_id: str,
                          actor: str, database: str | None = None) -> Campaign:
    """A draft campaign targeting a live segment. Its profile database is the segment's
    (`database`, when given, must be that one)."""
    name = normalize_name(name, "campaign name")
    channel = _channel(channel)
    segment = await require_segment(db, segment_id)
    if database is not None and database != segment.database:
        raise StoreInputError(f"segment {segment.name} belongs to profile database "
                              f"{segment.database}, not {database}",
                              suggestion="target a segment of the campaign's database")
    if segment.in_bin:
        raise StoreInputError(f"segment {segment.name} is in the bin",
                              suggestion="restore it first, or target another segment")
    document = {"_id": secrets.token_hex(8), "database": segment.database, "name": name,
                "name_folded": fold(name), "channel": channel, "segment_id": segment.id,
                "status": "draft", "created_at": utc_now(), "created_by": actor}
    try:
        await db[CAMPAIGNS].insert_one(document)
    except DuplicateKeyError:
        raise NameTakenError(f"a campaign named {name} already exists in profile database "
                             f"{segment.database}",
                             suggestion="campaign names are unique ignoring letter case") from None
    return Campaign.from_document(document)


async def get_campaign(db: AsyncDatabase, campaign_id: str) -> Campaign | None:
    document = await db[CAMPAIGNS].find_one({"_id": campaign_id})
    return Campaign.from_document(await _unless_stale(db, document)) if document else None


async def _unless_stale(db: AsyncDatabase, document: dict) -> dict:
    """`document`, or, when it is a send whose sender has gone silent, the same campaign
    marked failed (atomically: a sender that renews its heartbeat meanwhile wins)."""
    if document.get("status") != "sending":
        return document
    heard = document.get("heartbeat_at") or document.get("send_started_at")
    if heard is not None and heard.tzinfo is None:
        heard = heard.replace(tzinfo=dt.timezone.utc)
    if heard is not None and (utc_now() - heard).total_seconds() < SEND_STALE_SECONDS:
        return document
    failed = await db[CAMPAIGNS].find_one_and_update(
        {"_id": document["_id"], "status": "sending",
         "heartbeat_at": document.get("heartbeat_at")},
        {"$set": {"status": "failed", "failure": "the send stopped midway (its server "
                  "stopped or lost the store); send it again to resume"}},
        return_document=ReturnDocument.AFTER)
    return failed or await db[CAMPAIGNS].find_one({"_id": document["_id"]}) or document


async def require_campaign(db: AsyncDatabase, campaign_id: str) -> Campaign:
    campaign = await get_campaign(db, campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign with id {campaign_id}")
    return campaign


async def find_campaign(db: AsyncDatabase, database: str, ref: str) -> Campaign:
    """The campaign of `database` with id `ref`, or named `ref` ignoring letter case."""
    async for document in db[CAMPAIGNS].find(
            {"database": database, "$or": [{"_id": ref}, {"name_folded": fold(ref)}]}):
        return Campaign.from_document(document)
    raise NotFoundError(f"no campaign named {ref!r} in profile database {database}")


async def list_campaigns(db: AsyncDatabase, database: str = DEFAULT_DATABASE, *,
                         segment_id: str | None = None) -> list[Campaign]:
    """The campaigns of a database (or of one segment), by name."""
    query: dict = {"database": database}
    if segment_id is not None:
        query["segment_id"] = segment_id
    cursor = db[CAMPAIGNS].find(query).sort("name_folded", ASCENDING)
    return [Campaign.from_document(await _unless_stale(db, document))
            async for document in cursor]


async def send_campaign(db: AsyncDatabase, campaign_id: str, *, now: dt.datetime,
                        actor: str) -> Campaign:
    """Send a campaign: freeze its recipients (see the module docstring) as its segment
    selects them at `now`. Idempotent; a failed send resumes at the time it started with
    (its stored `now`), not at this one."""
    campaign = await require_campaign(db, campaign_id)
    if campaign.status == "sent":
        return campaign
    if campaign.status == "draft":
        segment = await require_segment(db, campaign.segment_id)
        require_live(segment)
        started = await db[CAMPAIGNS].find_one_and_update(
            {"_id": campaign.id, "status": "draft"},
            {"$set": {"status": "sending", "segment_version": segment.version,
                      "now": to_millis(now), "send_started_at": utc_now(),
                      "heartbeat_at": utc_now(), "sent_by": actor}},
            return_document=ReturnDocument.AFTER)
        if started is None:  # someone else started (or finished) it meanwhile
            return await send_campaign(db, campaign_id, now=now, actor=actor)
        campaign = Campaign.from_document(started)
    elif campaign.status == "failed":
        resumed = await db[CAMPAIGNS].find_one_and_update(
            {"_id": campaign.id, "status": "failed"},
            {"$set": {"status": "sending", "heartbeat_at": utc_now(), "sent_by": actor},
             "$unset": {"failure": ""}},
            return_document=ReturnDocument.AFTER)
        if resumed is None:  # someone else resumed (or finished) it meanwhile
            return await send_campaign(db, campaign_id, now=now, actor=actor)
        campaign = Campaign.from_document(resumed)
    try:
        # the time the send started with (a resumed send keeps it)
        return await _finish(db, campaign, now=campaign.now, actor=actor)
    except Exception as error:  # whatever stopped it, the campaign must not stay `sending`
        reason = str(error) or type(error).__name__
        try:
            stopped = await db[CAMPAIGNS].find_one_and_update(
                {"_id": campaign.id, "status": "sending"},
                {"$set": {"status": "failed", "failure": reason}},
                return_document=ReturnDocument.AFTER)
        except Exception:  # the store is gone too: the silent heartbeat will say it
            stopped = None
        if stopped is None:
            raise
        raise SendFailedError(f"the send of campaign {campaign.name} stopped midway: {reason}",
                              Campaign.from_document(stopped)) from error


async def _insert_new(db: AsyncDatabase, documents: list[dict]) -> None:
    """Insert recipients; one already there (a resumed or concurrent send) is kept as it
    is. Plain inserts, not upserts: several times faster, and the `_id` is the guard."""
    if not documents:
        return
    try:
        await db[CAMPAIGN_RECIPIENTS].insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors") or any(
                write_error.get("code") != DUPLICATE_KEY
                for write_error in error.details.get("writeErrors", [])):
            raise


async def _finish(db: AsyncDatabase, campaign: Campaign, *, now: dt.datetime,
                  actor: str) -> Campaign:
    segment = await require_segment(db, campaign.segment_id)
    version = await get_version(db, segment.id, campaign.segment_version)
    prepared = await query.prepare_segment(db, segment, now=now,
                                           definition=version.definition)
    field = ADDRESS_FIELDS[campaign.channel]
    projection = {"_id": 0, "id": 1, f"consent.{campaign.channel}": 1,
                  f"suppression.{campaign.channel}": 1}
    if field is not None:
        projection[f"fields.{field}"] = 1
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    at_version = replace(segment, version=campaign.segment_version)  # logged as used
    async with timed_run(db, at_version, purpose="send", actor=actor,
                         now=prepared.now) as run:
        async for chunk in query.chunks(prepared, projection=projection):
            run.count += len(chunk)
            documents = []
            for member in chunk:
                reason = skip_reason(member, campaign.channel)
                if reason is not None:
                    skipped[reason] += 1
                    continue
                address = member.get("fields", {}).get(field) if field is not None else None
                documents.append({"_id": f"{campaign.id}:{member['id']}",
                                  "campaign": campaign.id, "database": campaign.database,
                                  "contact": member["id"], "address": address,
                                  "segment_version": campaign.segment_version,
                                  "now": campaign.now, "at": utc_now()})
            await _insert_new(db, documents)
            await db[CAMPAIGNS].update_one({"_id": campaign.id, "status": "sending"},
                                           {"$set": {"heartbeat_at": utc_now()}})
    count = await db[CAMPAIGN_RECIPIENTS].count_documents({"campaign": campaign.id})
    sent = await db[CAMPAIGNS].find_one_and_update(
        {"_id": campaign.id, "status": "sending"},
        {"$set": {"status": "sent", "recipient_count": count, "skipped": skipped,
                  "sent_at": utc_now()}},
        return_document=ReturnDocument.AFTER)
    if sent is None:  # a concurrent sender finished first: same recipients, same count
        return await require_campaign(db, campaign.id)
    return Campaign.from_document(sent)
