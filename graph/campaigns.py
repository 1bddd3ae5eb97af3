"""Campaigns: create, send (the recipients are frozen then), read, recipients page by page."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET, Private

from graph.contacts import Contact, contact_from_document
from graph.context import Info, value
from graph.errors import ExpectedErrors, SegmentError
from graph.pagination import Connection, connection, page_size, read_page
from graph.permissions import Requires, answers_empty_unless
from store.campaigns import Campaign as StoredCampaign
from store.campaigns import (SendFailedError, create_campaign, get_campaign, list_campaigns,
                             send_campaign)
from store.contacts import contact_key
from store.errors import NotFoundError
from store.fields import DEFAULT_DATABASE
from store.recipients import Recipient as StoredRecipient
from store.recipients import list_recipients

if TYPE_CHECKING:
    from graph.segments import Segment


@strawberry.enum
class Channel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


@strawberry.enum
class CampaignStatus(enum.Enum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@strawberry.type(description="A contact a send chose, with the address it had then.")
class Recipient:
    contact_id: strawberry.ID
    address: str | None = strawberry.field(description="Email or MobilePhone at the send "
                                                       "(null for push).")
    segment_version: int
    now: dt.datetime
    database: Private[str]

    @strawberry.field(description="The contact as it is now (null if it is gone).")
    async def contact(self, info: Info) -> Contact | None:
        document = await info.context.loaders.contacts.load(
            contact_key(self.database, self.contact_id))
        return contact_from_document(document, self.database) if document else None


RecipientConnection = Connection[Recipient]


@strawberry.type(description="Members a send skipped for one reason: no_address, "
                             "unsubscribed, hard_bounce or spam_complaint.")
class SkipCount:
    reason: str
    count: int


@strawberry.type(description="A campaign: a name, a channel and a target segment. Sending it "
                             "freezes its recipients.")
class Campaign:
    id: strawberry.ID
    name: str
    channel: Channel
    segment_id: strawberry.ID
    status: CampaignStatus
    recipient_count: int | None
    segment_version: int | None = strawberry.field(description="The version the send used.")
    database: str
    now: dt.datetime | None = strawberry.field(description="The evaluation time the send used.")
    created_at: dt.datetime
    created_by: str
    sent_at: dt.datetime | None
    sent_by: str | None
    failure: str | None = strawberry.field(
        default=None, description="Why the send stopped (status FAILED); sending again resumes "
                                  "it, adding no recipient twice.")
    skipped: list[SkipCount] = strawberry.field(
        description="The segment's members the send left out, by reason (every reason, "
                    "0 included; empty before the send).")

    @strawberry.field(description="The target segment (null once purged).")
    async def segment(self, info: Info) -> Annotated[Segment, strawberry.lazy(
            "graph.segments")] | None:
        from graph.segments import segment_from_store

        segment = await info.context.loaders.segments.load(str(self.segment_id))
        return segment_from_store(segment) if segment else None

    @strawberry.field(description="The recipients by contact id, a page at a time (empty "
                                  "before the send).")
    async def recipients(self, info: Info, first: int | None = 50,
                         after: str | None = UNSET) -> RecipientConnection:
        first, after = value(first, 50), value(after)
        page = await read_page(list_recipients(info.context.db, str(self.id),
                                               first=page_size(first), after=after))
        database = self.database
        return connection(page, lambda item: _recipient(item, database), after)


def _recipient(item: StoredRecipient, database: str) -> Recipient:
    return Recipient(contact_id=strawberry.ID(item.contact_id), address=item.address,
                     segment_version=item.segment_version, now=item.now, database=database)


def campaign_from_store(campaign: StoredCampaign) -> Campaign:
    return Campaign(id=strawberry.ID(campaign.id), name=campaign.name,
                    channel=Channel(campaign.channel),
                    segment_id=strawberry.ID(campaign.segment_id),
                    status=CampaignStatus(campaign.status),
                    recipient_count=campaign.recipient_count,
                    segment_version=campaign.segment_version, database=campaign.database,
                    now=campaign.now, created_at=campaign.created_at,
                    created_by=campaign.created_by, sent_at=campaign.sent_at,
                    sent_by=campaign.sent_by, failure=campaign.failure,
                    skipped=[SkipCount(reason=reason, count=count)
                             for reason, count in (campaign.skipped or {}).items()])


@strawberry.type
class CampaignResult:
    campaign: Campaign | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


async def visible_campaign(info: Info, campaign_id: str) -> StoredCampaign | None:
    campaign = await get_campaign(info.context.db, str(campaign_id))
    if campaign is None or not info.context.access.can_see(campaign.database):
        return None
    return campaign


@strawberry.type
class CampaignQueries:
    @strawberry.field(description="A campaign by id.")
    async def campaign(self, info: Info, id: strawberry.ID) -> Campaign | None:
        campaign = await visible_campaign(info, id)
        return campaign_from_store(campaign) if campaign else None

    @strawberry.field(description="The campaigns of a profile database, by name.",
                      extensions=[answers_empty_unless(database="database")])
    async def campaigns(self, info: Info,
                        database: str | None = DEFAULT_DATABASE) -> list[Campaign]:
        return [campaign_from_store(item) for item in
                await list_campaigns(info.context.db, value(database, DEFAULT_DATABASE))]


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(description="A draft campaign targeting a live segment (its profile "
                                     "database is the segment's).",
                         extensions=[Requires("editor", "change campaigns"), ExpectedErrors()])
    async def create_campaign(self, info: Info, name: str, channel: Channel,
                              segment_id: strawberry.ID) -> CampaignResult:
        from graph.segments import existing_segment

        segment = await existing_segment(info, segment_id)
        return CampaignResult(campaign=campaign_from_store(await create_campaign(
            info.context.db, name=name, channel=channel.value, segment_id=segment.id,
            actor=info.context.actor)))

    @strawberry.mutation(description="Send a campaign: freeze its recipients from the segment's "
                                     "current definition at `now` (default: the current time). "
                                     "Sending it again changes nothing.",
                         extensions=[Requires("editor", "change campaigns"), ExpectedErrors()])
    async def send_campaign(self, info: Info, id: strawberry.ID,
                            now: dt.datetime | None = UNSET) -> CampaignResult:
        campaign = await visible_campaign(info, id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {id}")
        try:
            sent = await info.context.heavy(send_campaign(
                info.context.db, campaign.id, now=value(now, info.context.now),
                actor=info.context.actor))
        except SendFailedError as failed:  # the campaign as it now is (FAILED), and why
            stopped = failed.campaign
            return CampaignResult(
                campaign=campaign_from_store(stopped) if stopped else None,
                errors=[SegmentError(message=f"{failed.message} ({failed.suggestion})",
                                     suggestion=failed.suggestion, code="SEND_FAILED")])
        return CampaignResult(campaign=campaign_from_store(sent))
