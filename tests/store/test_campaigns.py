"""Campaigns: creation rules, sending (recipients frozen with version and time, channel
skip rules, idempotent, crash-resumable), recipients read back and exported."""

from __future__ import annotations

import csv
import io

import pytest
import pytest_asyncio

from store.campaigns import create_campaign, find_campaign, list_campaigns, send_campaign
from store.clock import utc_now
from store.collections import CAMPAIGN_RECIPIENTS, CAMPAIGNS
from store.contacts import upsert_contacts
from store.errors import NameTakenError, NotFoundError, StoreInputError
from store.fields import ensure_database
from store.query import run as members_module
from store.recipients import export_recipients_csv, list_recipients, write_recipients_csv
from store.segment_bin import delete_segment
from store.segment_runs import list_runs
from store.segments import create_segment, update_segment
from tests.store.seed import ACTOR, NOW, seed

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(store):
    await seed(store.db)
    return store.db


@pytest_asyncio.fixture
async def everyone(db):
    return await create_segment(db, name="Everyone", expression="", actor=ACTOR)


async def campaign(db, segment, channel: str = "email", name: str = "Spring"):
    return await create_campaign(db, name=name, channel=channel, segment_id=segment.id,
                                 actor=ACTOR)


async def recipients(db, campaign_id: str) -> dict[str, str | None]:
    return {doc["contact"]: doc["address"]
            async for doc in db[CAMPAIGN_RECIPIENTS].find({"campaign": campaign_id})}


async def test_create_checks_channel_segment_and_name(db, everyone) -> None:
    created = await create_campaign(db, name="Spring", channel="EMAIL",
                                    segment_id=everyone.id, actor=ACTOR)
    assert (created.channel, created.status, created.database, created.segment_id) == \
        ("email", "draft", "main", everyone.id)
    assert created.recipient_count is None and created.segment_version is None
    with pytest.raises(StoreInputError, match="'fax' is not a channel"):
        await create_campaign(db, name="X", channel="fax", segment_id=everyone.id, actor=ACTOR)
    with pytest.raises(NotFoundError, match="no segment with id nope"):
        await create_campaign(db, name="X", channel="sms", segment_id="nope", actor=ACTOR)
    with pytest.raises(NameTakenError, match="a campaign named spring already exists"):
        await create_campaign(db, name="spring", channel="sms", segment_id=everyone.id,
                              actor=ACTOR)
    with pytest.raises(StoreInputError, match="belongs to profile database main, not shop"):
        await create_campaign(db, name="X", channel="sms", segment_id=everyone.id,
                              actor=ACTOR, database="shop")
    gone = await create_segment(db, name="Gone", expression="", actor=ACTOR)
    await delete_segment(db, gone.id, actor=ACTOR)
    with pytest.raises(StoreInputError, match="segment Gone is in the bin"):
        await create_campaign(db, name="X", channel="push", segment_id=gone.id, actor=ACTOR)
    assert (await find_campaign(db, "main", "SPRING")).id == created.id
    assert [c.name for c in await list_campaigns(db, "main")] == ["Spring"]


async def test_email_send_skips_contacts_without_email(db, everyone) -> None:
    sent = await send_campaign(db, (await campaign(db, everyone)).id, now=NOW, actor="test:bob")
    assert sent.status == "sent" and sent.recipient_count == 4
    assert sent.segment_version == 1 and sent.now == NOW and sent.sent_by == "test:bob"
    assert await recipients(db, sent.id) == {"c1": "anna@example.com", "c4": "dan@example.com",
                                             "c5": "eve@example.com", "c6": "fred@example.com"}
    runs = await list_runs(db, everyone.id)
    assert [(run.purpose, run.count, run.version, run.now) for run in runs] == [
        ("send", 6, 1, NOW)]


async def test_sms_and_push_rules(db, everyone) -> None:
    sms = await send_campaign(db, (await campaign(db, everyone, "sms", "Text")).id, now=NOW,
                              actor=ACTOR)
    assert await recipients(db, sms.id) == {"c1": "+48100", "c2": "+48200"}
    push = await send_campaign(db, (await campaign(db, everyone, "push", "Push")).id, now=NOW,
                               actor=ACTOR)
    assert push.recipient_count == 6
    assert set((await recipients(db, push.id)).values()) == {None}


async def test_sending_again_changes_nothing(db, everyone, monkeypatch) -> None:
    monkeypatch.setattr(members_module, "CHUNK_SIZE", 2)
    sent = await send_campaign(db, (await campaign(db, everyone)).id, now=NOW, actor=ACTOR)
    before = await db[CAMPAIGN_RECIPIENTS].find({}).to_list()
    await update_segment(db, everyone.id, expression="Age > 100", actor=ACTOR)
    again = await send_campaign(db, sent.id, now=utc_now(), actor=ACTOR)
    assert again == sent
    assert await db[CAMPAIGN_RECIPIENTS].find({}).to_list() == before
    assert len(await list_runs(db, everyone.id)) == 1


async def test_send_uses_the_segment_definition_at_that_moment(db, everyone) -> None:
    draft = await campaign(db, everyone)
    await update_segment(db, everyone.id, expression='City equals "krakow"', actor=ACTOR)
    sent = await send_campaign(db, draft.id, now=NOW, actor=ACTOR)
    assert sent.segment_version == 2
    assert sorted(await recipients(db, sent.id)) == ["c1", "c5"]  # c3 has no Email


async def test_a_crashed_send_resumes_without_doubling_anyone(db, everyone) -> None:
    draft = await campaign(db, everyone)
    # A send that died midway: started (status, version, now recorded), one recipient in.
    await db[CAMPAIGNS].update_one({"_id": draft.id}, {"$set": {
        "status": "sending", "segment_version": 1, "now": NOW, "send_started_at": NOW,
        "sent_by": ACTOR}})
    await db[CAMPAIGN_RECIPIENTS].insert_one({
        "_id": f"{draft.id}:c4", "campaign": draft.id, "database": "main", "contact": "c4",
        "address": "dan@example.com", "segment_version": 1, "now": NOW, "at": NOW})
    # Meanwhile the segment changed: the resumed send keeps the version it started with.
    await update_segment(db, everyone.id, expression="Age > 100", actor=ACTOR)
    sent = await send_campaign(db, draft.id, now=utc_now(), actor=ACTOR)
    assert sent.status == "sent" and sent.recipient_count == 4 and sent.segment_version == 1
    assert sorted(await recipients(db, sent.id)) == ["c1", "c4", "c5", "c6"]
    assert await db[CAMPAIGN_RECIPIENTS].count_documents({"campaign": draft.id}) == 4


async def test_recipients_page_by_page_and_as_csv(db) -> None:
    await upsert_quoted(db)
    segment = await create_segment(db, name="Emails", expression="Email has value",
                                   actor=ACTOR)
    sent = await send_campaign(db, (await campaign(db, segment)).id, now=NOW, actor=ACTOR)
    ids, after = [], None
    while True:
        page = await list_recipients(db, sent.id, first=2, after=after)
        ids += [item.contact_id for item in page.items]
        assert all(item.segment_version == 1 and item.now == NOW for item in page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    assert ids == ["c1", "c4", "c5", "c6", "c7"]
    text = "".join([chunk async for chunk in export_recipients_csv(db, sent.id)])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["id", "Email"]
    assert rows[-1] == ["c7", 'odd,"name"@example.com']
    out = io.BytesIO()
    assert await write_recipients_csv(db, sent.id, out) == len(text.encode())
    with pytest.raises(StoreInputError, match="is not a cursor"):
        await list_recipients(db, sent.id, after="nope")


async def upsert_quoted(db) -> None:
    await upsert_contacts(db, "main", [{"id": "c7",
                                        "fields": {"Email": 'odd,"name"@example.com'}}])


async def test_a_campaign_of_another_database(db) -> None:
    await ensure_database(db, "shop")
    await upsert_contacts(db, "shop", [{"id": "s1", "fields": {"Email": "s@example.com"}}])
    segment = await create_segment(db, name="Everyone", expression="", database="shop",
                                   actor=ACTOR)
    sent = await send_campaign(db, (await campaign(db, segment)).id, now=utc_now(), actor=ACTOR)
    assert sent.database == "shop" and await recipients(db, sent.id) == {"s1": "s@example.com"}


# --- a send that fails midway ends FAILED, with the reason, and a retry finishes it ------

async def test_a_send_that_fails_midway_ends_failed_and_a_retry_finishes_it(
        db, everyone, monkeypatch) -> None:
    from pymongo.errors import AutoReconnect

    from store import campaigns as campaigns_module
    from store.campaigns import SendFailedError, get_campaign

    real_chunks = campaigns_module.query.chunks

    async def store_lost_after_one_chunk(*args, **kwargs):  # the fault: the store goes away
        async for chunk in real_chunks(*args, **{**kwargs, "size": 1}):
            yield chunk
            raise AutoReconnect("connection to the store was lost")

    monkeypatch.setattr(campaigns_module.query, "chunks", store_lost_after_one_chunk)
    draft = await campaign(db, everyone)
    with pytest.raises(SendFailedError) as failed:
        await send_campaign(db, draft.id, now=NOW, actor=ACTOR)
    assert "connection to the store was lost" in failed.value.message
    stored = await get_campaign(db, draft.id)
    assert stored.status == "failed" and "connection to the store was lost" in stored.failure
    assert failed.value.campaign == stored
    assert 0 < await db[CAMPAIGN_RECIPIENTS].count_documents({"campaign": draft.id}) < 4

    monkeypatch.setattr(campaigns_module.query, "chunks", real_chunks)  # the cause is fixed
    await update_segment(db, everyone.id, expression="Age > 100", actor=ACTOR)
    sent = await send_campaign(db, draft.id, now=utc_now(), actor=ACTOR)
    assert sent.status == "sent" and sent.failure is None and sent.segment_version == 1
    assert sorted(await recipients(db, sent.id)) == ["c1", "c4", "c5", "c6"]
    assert sent.recipient_count == 4
    assert await send_campaign(db, draft.id, now=utc_now(), actor=ACTOR) == sent  # idempotent


async def test_a_send_left_behind_by_a_dead_server_shows_as_failed(db, everyone) -> None:
    import datetime as dt

    from store.campaigns import SEND_STALE_SECONDS, get_campaign

    draft = await campaign(db, everyone)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=SEND_STALE_SECONDS + 5)
    await db[CAMPAIGNS].update_one({"_id": draft.id}, {"$set": {
        "status": "sending", "segment_version": 1, "now": NOW, "send_started_at": long_ago,
        "heartbeat_at": long_ago, "sent_by": ACTOR}})
    stale = await get_campaign(db, draft.id)
    assert stale.status == "failed" and "stopped" in stale.failure
    assert [c.status for c in await list_campaigns(db)] == ["failed"]
    sent = await send_campaign(db, draft.id, now=utc_now(), actor=ACTOR)
    assert sent.status == "sent" and sent.recipient_count == 4
