"""The limits that keep one hostile or careless request from slowing the server for all.

- request body: at most MAX_BODY_BYTES (1 MiB); a bigger one is refused with HTTP 413
  before any of it is parsed (at once when Content-Length says so, else as soon as the
  bytes read pass the limit);
- GraphQL documents: depth (QueryDepthLimiter, introspection not counted), tokens
  (MaxTokensLimiter: the parser stops counting at the limit) and aliases
  (MaxAliasesLimiter); a document over a limit is refused before it runs;
- pages: `first` at most MAX_PAGE (200) on every connection, PREVIEW_SIZE contacts in a
  preview, MAX_EVENTS events per contact;
- heavy work: at most MAX_HEAVY previews, searches, counts, sends, ingestion batches and
  bulk actions use the store at once (`Gate`); the rest wait in the server, up to
  MAX_QUEUE_SECONDS, then are refused as busy (code BUSY);
- time: every database operation has the store client's time limit (CSOT `timeoutMS`,
  SEGMENTQL_QUERY_TIMEOUT_MS); a request that runs into it gets a "took longer than the
  server's time limit" error, not a hung connection. The whole GraphQL request has a
  deadline as well (`RequestDeadlineMiddleware`, SEGMENTQL_REQUEST_TIMEOUT_MS, default
  30 s): past it the request is cancelled and answered with a TIMEOUT error, however many
  database operations it was made of. CPU work of the language (parse, check, compile,
  diagnose, complete, explain) runs in worker threads, so it never holds up other requests
  (a thread cannot be cancelled: it runs to its end, bounded by the language's own limits).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (MaxAliasesLimiter, MaxTokensLimiter, ParserCache,
                                   QueryDepthLimiter, ValidationCache)

from store.pages import MAX_PAGE

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 12
MAX_TOKENS = 10_000
MAX_ALIASES = 30
MAX_EVENTS = 200
CACHED_DOCUMENTS = 256
DEFAULT_EVENTS = 20

__all__ = ["MAX_ALIASES", "MAX_BODY_BYTES", "MAX_DEPTH", "MAX_EVENTS", "MAX_HEAVY", "MAX_PAGE",
           "MAX_TOKENS", "BodyLimitMiddleware", "Busy", "Gate", "RequestDeadlineMiddleware",
           "request_timeout", "validation_extensions"]


# strawberry's limiters build a new validation rule class per instance; built once here and
# reused, the rules are the same objects on every request, so ValidationCache can reuse a
# document's validation (its key includes the rules).
_DEPTH_RULES = QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules
_ALIAS_RULES = MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules


class DepthLimit(QueryDepthLimiter):
    def __init__(self) -> None:
        self.validation_rules = _DEPTH_RULES


class AliasLimit(MaxAliasesLimiter):
    def __init__(self) -> None:
        self.validation_rules = _ALIAS_RULES


class TokenLimit(MaxTokensLimiter):
    def __init__(self) -> None:
        super().__init__(max_token_count=MAX_TOKENS)


class DocumentCache(ParserCache):
    """Parsed documents of the last CACHED_DOCUMENTS query texts (bounded LRU)."""

    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)


class ValidatedCache(ValidationCache):
    """Validation results of the last CACHED_DOCUMENTS documents (bounded LRU)."""

    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)


def validation_extensions() -> list[type]:
    """The limiting and caching extensions, as classes: strawberry makes one of each per
    request (the limits run before the caches: a refused document is never cached as valid,
    since the rules are part of the validation cache's key)."""
    return [DepthLimit, TokenLimit, AliasLimit, DocumentCache, ValidatedCache]


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"errors": [{"message": f"the request body is larger than "
                                                f"{limit} bytes; send smaller batches"}]})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Reads a request body of at most `limit` bytes, then hands it to the app; a bigger one
    gets 413 without the app seeing it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await _too_large(send, self.limit)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


DEADLINE = "segmentql.deadline"  # key in the ASGI scope's state: when to stop writing


def request_deadline(request) -> float | None:
    """The `time.monotonic()` by which a request's writes should have stopped, if any."""
    if request is None:
        return None
    return request.scope.get("state", {}).get(DEADLINE)


def request_timeout() -> float:
    """The whole-request deadline in seconds (SEGMENTQL_REQUEST_TIMEOUT_MS, default 30 s)."""
    return int(os.environ.get("SEGMENTQL_REQUEST_TIMEOUT_MS", "") or 30_000) / 1000


class RequestDeadlineMiddleware:
    """Cancels a GraphQL request still running after `seconds` and answers it with a
    TIMEOUT error (when no byte of the answer has gone out yet). Writes are idempotent
    (contacts upserted by id, events deduplicated by id), so the message says a cut-off
    write may be sent again. Exports stream for as long as they have rows, so they are
    left to the per-operation limit instead."""

    def __init__(self, app: ASGIApp, seconds: float | None = None,
                 paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.seconds = seconds if seconds is not None else request_timeout()
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        started = False
        # Work that can stop cleanly (a batch of writes) reads the deadline to stop in time
        # and say what it stored, instead of being cut off by the cancellation below.
        scope.setdefault("state", {})[DEADLINE] = time.monotonic() + self.seconds

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, watched)
        except TimeoutError:
            if started:
                raise
            body = orjson.dumps({"data": None, "errors": [{
                "message": f"the request took longer than the server's limit of "
                           f"{self.seconds:g} s and was stopped",
                "extensions": {"code": "TIMEOUT", "suggestion":
                               "narrow the expression or send a smaller batch; a write that "
                               "was stopped may have stored part of its rows, and sending "
                               "the same rows again is safe"}}]})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


MAX_HEAVY = int(os.environ.get("SEGMENTQL_MAX_HEAVY", "") or 8)
MAX_QUEUE_SECONDS = 60.0


class Busy(Exception):
    """No slot for heavy work came free in time: the server is overloaded; retry later."""


class Gate:
    """At most `slots` heavy requests (previews, searches, counts, sends, ingestion, bulk
    actions) use the store at once; the others wait their turn here, in the server, where
    waiting costs nothing and no store time limit runs, instead of crowding the store until
    every query runs into its time limit. A request that waits longer than `wait` seconds is
    refused with a "busy" error. Cheap reads never wait."""

    def __init__(self, slots: int = MAX_HEAVY, wait: float = MAX_QUEUE_SECONDS) -> None:
        self.slots = slots
        self.wait = wait
        self._semaphore: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore is None:  # made in the server's event loop
            self._semaphore = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait)
        except TimeoutError:
            raise Busy(f"the server is busy: no capacity for this request within "
                       f"{self.wait:.0f} s; try again shortly") from None
        try:
            yield
        finally:
            self._semaphore.release()
