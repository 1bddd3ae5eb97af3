"""Consent: set by contact rows and by the events Unsubscribe / HardBounce / SpamComplaint;
`can receive C` selects exactly who a campaign send includes, and the send reports every
skipped member under its reason."""

from __future__ import annotations

import pytest
import pytest_asyncio

from dsl.consent import SKIP_REASONS
from dsl.evaluator import select
from dsl.parser import parse
from store.campaigns import create_campaign, send_campaign
from store.collections import CAMPAIGN_RECIPIENTS
from store.consent import public_consent
from store.contacts import get_contact, upsert_contacts
from store.events import track_events
from store.fields import ensure_database
from store.segments import create_segment
from store import query
from tests.store.seed import ACTOR, NOW

pytestmark = pytest.mark.asyncio

# One contact per consent state and reason, per channel.
CONTACTS = [
    {"id": "ok", "fields": {"Email": "ok@example.com", "MobilePhone": "+48 1"}},
    {"id": "subscribed", "fields": {"Email": "s@example.com", "MobilePhone": "+48 2"},
     "consent": {"email": "subscribed", "sms": "subscribed", "push": "subscribed"}},
    {"id": "no-address", "fields": {"FirstName": "Nobody"}},
    {"id": "empty-address", "fields": {"Email": "", "MobilePhone": ""}},
    {"id": "unsubscribed-row", "fields": {"Email": "u@example.com", "MobilePhone": "+48 3"},
     "consent": {"email": "unsubscribed", "sms": "unsubscribed", "push": "unsubscribed"}},
    {"id": "unsubscribed-event", "fields": {"Email": "ue@example.com", "MobilePhone": "+48 4"},
     "consent": {"email": "subscribed"}},
    {"id": "bounced", "fields": {"Email": "b@example.com", "MobilePhone": "+48 5"}},
    {"id": "complained", "fields": {"Email": "c@example.com", "MobilePhone": "+48 6"}},
    {"id": "unsubscribed-and-bounced", "fields": {"Email": "ub@example.com"},
     "consent": {"email": "unsubscribed"}},
    {"id": "resubscribed", "fields": {"Email": "r@example.com"},
     "consent": {"email": "unsubscribed"}},
]
EVENTS = [
    {"contact": "unsubscribed-event", "type": "Unsubscribe", "time": "2024-05-01T10:00:00Z",
     "attributes": {"channel": "EMAIL"}},
    {"contact": "unsubscribed-event", "type": "Unsubscribe", "time": "2024-05-01T10:00:00Z",
     "attributes": {"channel": "sms"}},
    {"contact": "unsubscribed-event", "type": "Unsubscribe", "time": "2024-05-01T10:00:00Z",
     "attributes": {"channel": "fax"}},  # stored, sets nothing
    {"contact": "bounced", "type": "HardBounce", "time": "2024-05-01T10:00:00Z"},
    {"contact": "complained", "type": "SpamComplaint", "time": "2024-05-01T10:00:00Z"},
    {"contact": "unsubscribed-and-bounced", "type": "HardBounce", "time": "2024-05-01T10:00:00Z"},
]
EXPECTED_REASONS = {
    "email": {"ok": None, "subscribed": None, "no-address": "no_address",
              "empty-address": "no_address", "unsubscribed-row": "unsubscribed",
              "unsubscribed-event": "unsubscribed", "bounced": "hard_bounce",
              "complained": "spam_complaint", "unsubscribed-and-bounced": "unsubscribed",
              "resubscribed": None},
    "sms": {"ok": None, "subscribed": None, "no-address": "no_address",
            "empty-address": "no_address", "unsubscribed-row": "unsubscribed",
            "unsubscribed-event": "unsubscribed", "bounced": None, "complained": None,
            "unsubscribed-and-bounced": "no_address", "resubscribed": "no_address"},
    "push": {"ok": None, "subscribed": None, "no-address": None, "empty-address": None,
             "unsubscribed-row": "unsubscribed", "unsubscribed-event": None, "bounced": None,
             "complained": None, "unsubscribed-and-bounced": None, "resubscribed": None},
}


@pytest_asyncio.fixture
async def db(store):
    await ensure_database(store.db, "main")
    report = await upsert_contacts(store.db, "main", CONTACTS)
    assert report.stored == len(CONTACTS) and not report.rejected
    report = await track_events(store.db, "main", EVENTS)
    assert report.stored == len(EVENTS) and not report.rejected
    # The API gives consent back: a later row wins over an earlier event.
    report = await upsert_contacts(store.db, "main", [
        {"id": "resubscribed", "consent": {"email": "subscribed"}}])
    assert report.stored == 1
    return store.db


async def test_rows_and_events_set_consent(db) -> None:
    shown = {contact["id"]: public_consent(await get_contact(db, "main", contact["id"]))
             for contact in CONTACTS}
    assert shown["ok"] == {"email": "unknown", "sms": "unknown", "push": "unknown",
                           "suppressed": {}}
    assert shown["unsubscribed-event"] == {"email": "unsubscribed", "sms": "unsubscribed",
                                           "push": "unknown", "suppressed": {}}
    assert shown["bounced"]["suppressed"] == {"email": "hard_bounce"}
    assert shown["complained"]["suppressed"] == {"email": "spam_complaint"}
    assert shown["resubscribed"]["email"] == "subscribed"


async def test_bad_consent_rows_are_rejected_with_the_reason(db) -> None:
    report = await upsert_contacts(db, "main", [
        {"id": "x", "consent": {"fax": "subscribed"}},
        {"id": "y", "consent": {"email": "maybe"}},
        {"id": "z", "consent": "yes"},
        {"id": "w", "consent": {"email": None}}])
    assert report.stored == 1
    assert [error.message for error in report.rejected] == [
        "contact x: consent for 'fax': the channels are email, sms, push",
        "contact y: consent email is 'maybe'; it is subscribed, unsubscribed or null (unknown)",
        'contact z: consent must be an object such as {"email": "subscribed"}']


@pytest.mark.parametrize("channel", ["email", "sms", "push"])
async def test_can_receive_and_the_send_agree_with_the_rule(db, channel) -> None:
    expected = EXPECTED_REASONS[channel]
    can = sorted(contact for contact, reason in expected.items() if reason is None)
    stored = {contact["id"]: await get_contact(db, "main", contact["id"]) for contact in CONTACTS}
    for text, wanted in [(f"can receive {channel}", can),
                         (f"cannot receive {channel}", sorted(set(expected) - set(can)))]:
        prepared = await query.prepare(db, "main", expression=text, now=NOW)
        got = sorted([row["id"] async for row in query.members(prepared)])
        assert got == wanted, text
        assert sorted(select(parse(text), "main", stored.values(), [], NOW)) == wanted, text

    everyone = await create_segment(db, name=f"All {channel}", expression="", actor=ACTOR)
    campaign = await create_campaign(db, name=f"Send {channel}", channel=channel,
                                     segment_id=everyone.id, actor=ACTOR)
    sent = await send_campaign(db, campaign.id, now=NOW, actor=ACTOR)
    recipients = sorted([doc["contact"] async for doc in
                         db[CAMPAIGN_RECIPIENTS].find({"campaign": campaign.id})])
    assert recipients == can and sent.recipient_count == len(can)
    assert sent.skipped == {reason: sum(1 for value in expected.values() if value == reason)
                            for reason in SKIP_REASONS}
    again = await send_campaign(db, campaign.id, now=NOW, actor=ACTOR)  # sent: unchanged
    assert again.skipped == sent.skipped
