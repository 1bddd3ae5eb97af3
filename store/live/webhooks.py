"""Webhooks: a segment's changes POSTed to a URL as JSON batches, in the order recorded,
signed (`X-SegmentQL-Signature: sha256=<hex HMAC-SHA256 of the raw body>`), retried with
exponential backoff until a 2xx, at least once (a change carries its stable id, so a
receiver drops repeats).

`webhooks`: `{_id, segment, database, url, secret, created_at, created_by, delivered_seq,
last_delivery_at, last_error, attempts, next_attempt_at, lease: {owner, until}}`. The
webhook's cursor `delivered_seq` is the `seq` of the last change acknowledged. A delivery
claims the webhook's lease first (several servers may share a store; a dead one's lease
expires), and every webhook is delivered by its own task: a receiver that is down or slow
delays only its own deliveries."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import secrets as token
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson
from pymongo import ASCENDING, ReturnDocument

from store.collections import LIVE_CHANGES, WEBHOOKS
from store.errors import NotFoundError, StoreInputError
from store.live import bell
from store.live.changes import Change, last_seq
from store.live.clock import wall_now
from store.segments import require_segment
from store.tasks import WEBHOOK_DELIVERY, stop_if_cancelled

log = logging.getLogger(__name__)
# one log line per delivery POST is noise in a server's log; failures are on the webhook
logging.getLogger("httpx").setLevel(logging.WARNING)

SIGNATURE_HEADER = "X-SegmentQL-Signature"
BATCH = 100
LEASE = dt.timedelta(seconds=30)
REQUEST_TIMEOUT_S = 10.0
FIRST_RETRY_S = 0.5
LAST_RETRY_S = 300.0
# A change numbered but not yet stored (another process between numbering and storing it)
# is waited for this long, then taken as lost (its process died) and skipped.
GAP_WAIT = dt.timedelta(seconds=10)
MAX_URL = 2048
MAX_SECRET = 256


@dataclass(frozen=True)
class Webhook:
    id: str
    segment_id: str
    database: str
    url: str
    created_at: dt.datetime
    last_delivery_at: dt.datetime | None
    last_error: str | None
    pending: int

    @classmethod
    async def load(cls, db, document: dict) -> Webhook:
        pending = await db[LIVE_CHANGES].count_documents(
            {"segment": document["segment"], "seq": {"$gt": document.get("delivered_seq", 0)}})
        return cls(document["_id"], document["segment"], document["database"], document["url"],
                   document["created_at"], document.get("last_delivery_at"),
                   document.get("last_error"), pending)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise StoreInputError("a webhook URL is required", suggestion="e.g. https://example.com/hook")
    url = url.strip()
    if len(url) > MAX_URL:
        raise StoreInputError(f"the webhook URL is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise StoreInputError(f"the webhook URL {url[:80]!r} is not an http or https URL",
                              suggestion="give a URL such as https://example.com/hook")
    if not parts.hostname:
        raise StoreInputError(f"the webhook URL {url[:80]!r} names no host",
                              suggestion="give a URL such as https://example.com/hook")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise StoreInputError(f"the webhook URL {url[:80]!r} has an invalid port") from None
    return url


async def create_webhook(db, segment_id: str, url: str, secret: str, *, actor: str) -> Webhook:
    """A webhook for a segment's changes from now on."""
    url = check_url(url)
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET:
        raise StoreInputError(f"a webhook secret is a text of 1 to {MAX_SECRET} characters",
                              suggestion="the receiver checks signatures with it")
    segment = await require_segment(db, segment_id)
    if segment.in_bin:
        raise StoreInputError(f"segment {segment.name} is in the bin",
                              suggestion="restore it first")
    document = {"_id": token.token_hex(8), "segment": segment.id, "database": segment.database,
                "url": url, "secret": secret, "created_at": wall_now(), "created_by": actor,
                "delivered_seq": await last_seq(db, segment.id), "attempts": 0,
                "next_attempt_at": None, "last_delivery_at": None, "last_error": None,
                "lease": None}
    await db[WEBHOOKS].insert_one(document)
    return await Webhook.load(db, document)


async def delete_webhook(db, webhook_id: str) -> Webhook:
    document = await db[WEBHOOKS].find_one_and_delete({"_id": webhook_id})
    if document is None:
        raise NotFoundError(f"no webhook with id {webhook_id}")
    return await Webhook.load(db, document)


async def get_webhook(db, webhook_id: str) -> Webhook | None:
    document = await db[WEBHOOKS].find_one({"_id": webhook_id})
    return None if document is None else await Webhook.load(db, document)


async def list_webhooks(db, segment_id: str) -> list[Webhook]:
    return [await Webhook.load(db, document) async for document in
            db[WEBHOOKS].find({"segment": segment_id}).sort("created_at", ASCENDING)]


def backoff(attempts: int) -> float:
    return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), LAST_RETRY_S)


async def _claim(db, webhook_id: str, owner: str) -> dict | None:
    now = wall_now()
    return await db[WEBHOOKS].find_one_and_update(
        {"_id": webhook_id,
         "$and": [{"$or": [{"lease": None}, {"lease.until": {"$lt": now}},
                           {"lease.owner": owner}]},
                  {"$or": [{"next_attempt_at": None}, {"next_attempt_at": {"$lte": now}}]}]},
        {"$set": {"lease": {"owner": owner, "until": now + LEASE}}},
        return_document=ReturnDocument.AFTER)


async def _next_batch(db, webhook: dict) -> list[Change]:
    """The changes after the webhook's cursor, up to the first one still missing."""
    expected = webhook.get("delivered_seq", 0) + 1
    batch = []
    async for document in (db[LIVE_CHANGES].find({"segment": webhook["segment"],
                                                  "seq": {"$gte": expected}})
                           .sort("seq", ASCENDING).limit(BATCH)):
        if document["seq"] != expected and not (
                document["recorded_at"] < wall_now() - GAP_WAIT and not batch):
            break  # a gap: wait for it (or, when old, skip it, only at the batch's start)
        batch.append(Change.from_document(document))
        expected = document["seq"] + 1
    return batch


async def deliver_once(db, client: httpx.AsyncClient, webhook_id: str, owner: str) -> int:
    """Deliver the webhook's pending changes batch by batch while the receiver acknowledges;
    returns the number of changes delivered."""
    delivered = 0
    while True:
        webhook = await _claim(db, webhook_id, owner)
        if webhook is None:
            return delivered  # gone, waiting for its next attempt, or another process's
        batch = await _next_batch(db, webhook)
        if not batch:
            await db[WEBHOOKS].update_one({"_id": webhook_id, "lease.owner": owner},
                                          {"$set": {"lease": None}})
            return delivered
        body = orjson.dumps({"segment": webhook["segment"],
                             "changes": [change.to_json() for change in batch]})
        error = None
        try:
            response = await client.post(
                webhook["url"], content=body, timeout=REQUEST_TIMEOUT_S,
                headers={"content-type": "application/json",
                         SIGNATURE_HEADER: signature(webhook["secret"], body)})
            if not 200 <= response.status_code < 300:
                error = f"the receiver answered HTTP {response.status_code}"
        except httpx.HTTPError as failure:
            error = f"delivery failed: {type(failure).__name__}: {failure}"[:500]
        now = wall_now()
        if error is None:
            await db[WEBHOOKS].update_one(
                {"_id": webhook_id, "lease.owner": owner},
                {"$set": {"delivered_seq": batch[-1].seq, "last_delivery_at": now,
                          "last_error": None, "attempts": 0, "next_attempt_at": None}})
            delivered += len(batch)
            continue
        attempts = webhook.get("attempts", 0) + 1
        await db[WEBHOOKS].update_one(
            {"_id": webhook_id, "lease.owner": owner},
            {"$set": {"last_error": error, "attempts": attempts, "lease": None,
                      "next_attempt_at": now + dt.timedelta(seconds=backoff(attempts))}})
        return delivered


class Deliverer:
    """The delivery loop of a server: a task per webhook with something to deliver."""

    def __init__(self, db, owner: str, *, poll_s: float = 0.25) -> None:
        self.db = db
        self.owner = owner
        self.poll_s = poll_s
        self._tasks: dict[str, asyncio.Task] = {}

    async def run(self) -> None:
        async with httpx.AsyncClient() as client:
            try:
                while True:
                    await self._start_due(client)
                    stop_if_cancelled()
                    await bell.wait(self.poll_s)
            finally:
                for task in self._tasks.values():
                    task.cancel()

    async def _start_due(self, client: httpx.AsyncClient) -> None:
        now = wall_now()
        async for webhook in self.db[WEBHOOKS].find(
                {"$or": [{"next_attempt_at": None}, {"next_attempt_at": {"$lte": now}}]},
                {"_id": 1}):
            task = self._tasks.get(webhook["_id"])
            if task is None or task.done():
                self._tasks[webhook["_id"]] = asyncio.create_task(
                    self._deliver(client, webhook["_id"]), name=WEBHOOK_DELIVERY)

    async def _deliver(self, client, webhook_id: str) -> None:
        try:
            await deliver_once(self.db, client, webhook_id, self.owner)
        except Exception:  # a store hiccup: the next tick tries again
            log.exception("webhook %s: delivery failed", webhook_id)
