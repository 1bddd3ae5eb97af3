"""Live segments over GraphQL: a segment's changes (paged), its webhooks, creating and
deleting webhooks, and the `segmentChanges` subscription (graphql-transport-ws on /graphql).
The Segment type's live fields (count without `now`, membershipAsOf, changes, webhooks)
are in graph/segments.py and call the resolvers here."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import AsyncGenerator

import strawberry

from graph.context import Info, value
from graph.errors import ExpectedErrors, MutationResult, PublicError, SegmentError
from graph.pagination import Connection, connection, page_size, read_page
from graph.permissions import Requires
from store.errors import NotFoundError
from store.live import bell
from store.live.changes import Change, changes_after, last_seq, list_changes
from store.live.reading import membership_as_of
from store.live.webhooks import Webhook as StoredWebhook
from store.live.webhooks import create_webhook, delete_webhook, get_webhook, list_webhooks

SUBSCRIPTION_POLL_S = 0.5


@strawberry.enum(description="An entry into a segment or an exit from it.")
class MembershipChange(enum.Enum):
    ENTERED = "entered"
    LEFT = "left"


@strawberry.type(description="A contact entering or leaving a segment: `id` is stable (a "
                             "repeat of a delivery has the same id).")
class SegmentChange:
    id: strawberry.ID
    segment_id: strawberry.ID
    contact_id: strawberry.ID
    change: MembershipChange
    at: dt.datetime = strawberry.field(description="When it happened (for a change caused by "
                                                   "time passing: the exact instant).")
    cause: str = strawberry.field(description="event, contact, list, time or definition")


def change_from_store(change: Change) -> SegmentChange:
    return SegmentChange(id=strawberry.ID(change.id), segment_id=strawberry.ID(change.segment),
                         contact_id=strawberry.ID(change.contact),
                         change=MembershipChange(change.change), at=change.at,
                         cause=change.cause)


@strawberry.type(description="Where a segment's changes are POSTed (docs/live-segments.md).")
class Webhook:
    id: strawberry.ID
    segment_id: strawberry.ID
    url: str
    created_at: dt.datetime
    last_delivery_at: dt.datetime | None
    last_error: str | None
    pending: int = strawberry.field(description="Changes not yet acknowledged by the receiver.")


def webhook_from_store(webhook: StoredWebhook) -> Webhook:
    return Webhook(id=strawberry.ID(webhook.id), segment_id=strawberry.ID(webhook.segment_id),
                   url=webhook.url, created_at=webhook.created_at,
                   last_delivery_at=webhook.last_delivery_at, last_error=webhook.last_error,
                   pending=webhook.pending)


@strawberry.type
class WebhookResult:
    webhook: Webhook | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


# --- the Segment type's live fields ----------------------------------------------------------

async def segment_changes(info: Info, segment_id: str, since: dt.datetime | None, first: int,
                          after: str | None) -> Connection[SegmentChange]:
    page = await read_page(list_changes(info.context.db, segment_id, since=since,
                                        first=page_size(first), after=after))
    return connection(page, change_from_store, after)


async def segment_webhooks(info: Info, segment_id: str) -> list[Webhook]:
    return [webhook_from_store(item) for item in await list_webhooks(info.context.db, segment_id)]


async def segment_membership_as_of(info: Info, segment) -> dt.datetime | None:
    return await membership_as_of(info.context.db, segment)


# --- mutations -----------------------------------------------------------------------------

@strawberry.type
class LiveMutations:
    @strawberry.mutation(description="POST this segment's entries and exits to `url`, signed "
                                     "with `secret` (X-SegmentQL-Signature: sha256=<hex>).",
                         extensions=[Requires("editor", "add webhooks"), ExpectedErrors()])
    async def create_webhook(self, info: Info, segment_id: strawberry.ID, url: str,
                             secret: str) -> WebhookResult:
        from graph.segments import existing_segment

        segment = await existing_segment(info, segment_id)
        return WebhookResult(webhook=webhook_from_store(await create_webhook(
            info.context.db, segment.id, url, secret, actor=info.context.actor)))

    @strawberry.mutation(description="Stop a webhook (changes not yet delivered are dropped).",
                         extensions=[Requires("editor", "delete webhooks"), ExpectedErrors()])
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> MutationResult:
        from graph.segments import existing_segment

        webhook = await get_webhook(info.context.db, str(id))
        if webhook is None:
            raise NotFoundError(f"no webhook with id {id}")
        await existing_segment(info, webhook.segment_id)  # its database is open to the key
        await delete_webhook(info.context.db, webhook.id)
        return MutationResult(ok=True)


# --- the subscription ----------------------------------------------------------------------------

@strawberry.type
class LiveSubscriptions:
    @strawberry.subscription(description="The segment's entries and exits as they are "
                                         "recorded, from the moment of subscribing.")
    async def segment_changes(self, info: Info,
                              segment_id: strawberry.ID) -> AsyncGenerator[SegmentChange, None]:
        from graph.segments import visible_segment

        segment = await visible_segment(info, str(segment_id))
        if segment is None:
            raise PublicError(f"no segment with id {segment_id}")
        db = info.context.db
        seq = await last_seq(db, segment.id)
        while True:
            changes = await changes_after(db, segment.id, seq, 100)
            for change in changes:
                seq = change.seq
                yield change_from_store(change)
            if not changes:
                await bell.wait(SUBSCRIPTION_POLL_S)


__all__ = ["LiveMutations", "LiveSubscriptions", "SegmentChange", "Webhook", "segment_changes",
           "segment_membership_as_of", "segment_webhooks", "value"]
