"""The HTTP application: GraphQL at `/graphql` (GraphiQL on GET), CSV exports, one store.

    GET  /                                        the segment builder (graph/web)
    POST /graphql                                 GraphQL (GET: the GraphiQL IDE)
    GET  /export/segments/{id}.csv[?now=T]        a segment's current members, streamed
    GET  /export/segments/{id}/events.jsonl       the members' events, JSON Lines, streamed
    GET  /export/campaigns/{id}/recipients.csv    a sent campaign's recipients, streamed
    GET  /healthz                                 the server lives: 200, with the store's state
    GET  /readyz                                  200 when the store answers (saying so
                                                  while a repair runs), else 503
    GET  /static/...                              the pages' files, all served from here

Every request but the pages, their files, /healthz and /readyz needs `Authorization: Bearer <api key>`
(graph/auth.py, through Starlette's AuthenticationMiddleware); bodies are limited
(graph/limits.py). The lifespan opens ONE store for the whole app (with the embedded
server, a lease held until the app stops) and, when a development key is given, stores its
hash.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from dsl.errors import SegmentError as LanguageError
from dsl.errors import SegmentErrors
from dsl.values import parse_iso_datetime
from graph.auth import Access, ApiKeyBackend, KeyCache, access_of, bearer_token, unauthorized
from graph.context import Context, context_of
from graph.errors import unavailable_error
from graph.heap import start_up_frozen
from graph.limits import MAX_BODY_BYTES, BodyLimitMiddleware, Gate, RequestDeadlineMiddleware
from graph.requests import WebSocketAdapter, check_query_string, decode_json, require_object
from graph.schema import schema
from graph.web import graphiql_page, web_routes
from store.api_keys import ensure_development_key
from store.campaigns import get_campaign
from store.clock import utc_now
from store.connection import StoreSettings, open_store
from store.errors import StoreError
from store.exports import export_csv, export_events
from store.recipients import export_recipients_csv
from store.offload import warm_up
from store.live.background import background
from store.segments import get_segment

log = logging.getLogger("segmentql.graph")


class GraphQLView(GraphQL):
    websocket_adapter_class = WebSocketAdapter  # type: ignore[assignment]

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        return context_of(request)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        # Our own GraphiQL page: its scripts come from this server, not from a CDN.
        return graphiql_page()

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    async def parse_http_body(self, request):  # type: ignore[override]
        # strawberry reads keys of the body without checking it is an object first
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            require_object(decode_json(await request.get_body()))
        elif request.method == "GET":
            check_query_string(urlsplit(str(request.url)).query.encode("latin-1"))
        return await super().parse_http_body(request)

    async def on_ws_connect(self, context: Context):  # type: ignore[override]
        """A WebSocket without an Authorization header sends its key in connection_init
        (`{"Authorization": "Bearer <api key>"}`): browsers cannot set headers there."""
        if context.access is not None:
            return UNSET
        params = context.connection_params or {}
        token = bearer_token(params.get("Authorization") or params.get("authorization"))
        if token is None:
            raise ConnectionRejectionError({"message": "an API key is required: send "
                                            '{"Authorization": "Bearer <api key>"} in '
                                            "connection_init"})
        key = await context.request.app.state.key_cache.find(context.db, token)
        if key is None:
            raise ConnectionRejectionError({"message": "the API key is not valid"})
        context.access = Access(key)
        return UNSET


def _problem(status: int, message: str) -> Response:
    return Response(orjson.dumps({"errors": [{"message": message}]}), status_code=status,
                    media_type="application/json")


def _filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "export"


async def _stream(request: Request, chunks: AsyncIterator[str], media_type: str,
                  filename: str) -> Response:
    """Start the export (its checks run before the first chunk), then stream the rest."""
    try:
        first = await anext(chunks, "")
    except (LanguageError, SegmentErrors, StoreError) as error:
        return _problem(409, str(error))

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first.encode("utf-8")
        async for text in chunks:
            yield text.encode("utf-8")

    return StreamingResponse(body(), media_type=media_type, headers={
        "content-disposition": f'attachment; filename="{filename}"',
        "cache-control": "no-store"})


def _now(request: Request):
    """The export's evaluation time: `?now=`, or the current time, read once here."""
    text = request.query_params.get("now")
    if text is None:
        return utc_now(), None
    moment = parse_iso_datetime(text)
    if moment is None:
        return None, _problem(400, f"now={text!r} is not an ISO 8601 timestamp such as "
                                   "2024-05-01T10:00:00Z")
    return moment, None


async def _visible_segment(request: Request):
    access = access_of(request)
    segment = await get_segment(request.state.store.db, request.path_params["segment_id"])
    if segment is None or not access.can_see(segment.database):
        return None, _problem(404, f"no segment with id {request.path_params['segment_id']}")
    if segment.in_bin:
        return None, _problem(409, f"segment {segment.name} is in the bin; restore it first")
    return segment, None


async def _export_segment(request: Request, export, media_type: str, suffix: str) -> Response:
    """A segment's export, evaluated at the request's `now`, streamed as a download."""
    segment, problem = await _visible_segment(request)
    now, bad_now = _now(request)
    if problem or bad_now:
        return problem or bad_now
    chunks = export(request.state.store.db, segment.id, now=now, actor=access_of(request).actor)
    return await _stream(request, chunks, media_type, _filename(segment.name) + suffix)


async def export_segment_csv(request: Request) -> Response:
    return await _export_segment(request, export_csv, "text/csv; charset=utf-8", ".csv")


async def export_segment_events(request: Request) -> Response:
    return await _export_segment(request, export_events, "application/jsonl; charset=utf-8",
                                 "-events.jsonl")


async def export_campaign_recipients(request: Request) -> Response:
    access = access_of(request)
    campaign_id = request.path_params["campaign_id"]
    campaign = await get_campaign(request.state.store.db, campaign_id)
    if campaign is None or not access.can_see(campaign.database):
        return _problem(404, f"no campaign with id {campaign_id}")
    chunks = export_recipients_csv(request.state.store.db, campaign.id)
    return await _stream(request, chunks, "text/csv; charset=utf-8",
                         _filename(campaign.name) + "-recipients.csv")


async def healthz(request: Request) -> Response:
    """Liveness: the server answers (200) and says what it knows of its store."""
    health = request.app.state.store.health
    return Response(orjson.dumps({"status": "ok" if health.available else "degraded",
                                  "store": health.describe()}),
                    media_type="application/json")


async def readyz(request: Request) -> Response:
    """Readiness: 200 while the store answers, 503 (with the reason) while it does not.
    While interrupted imports are repaired the server serves (200), and says so: only
    conditions on the events of the databases being repaired are refused meanwhile."""
    health = request.app.state.store.health
    if health.available:
        repairing = health.repairing
        return PlainTextResponse(f"ready (repairing {repairing})" if repairing else "ready")
    return PlainTextResponse(f"not ready: the store is {health.describe()}", status_code=503)


class StoreAvailabilityMiddleware:
    """While the store is known to be down, GraphQL requests and exports are answered at
    once with an UNAVAILABLE error (HTTP 503), not after each database operation's time
    limit; the supervisor (store/connection.py) brings the store back."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        state = getattr(scope.get("app"), "state", None)
        store = getattr(state, "store", None) if state is not None else None
        if scope["type"] != "http" or store is None or store.health.available \
                or not scope["path"].startswith(("/graphql", "/export/")) \
                or scope["method"] == "GET" and scope["path"] == "/graphql" \
                and not scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        response = Response(orjson.dumps({"data": None, "errors": [unavailable_error(
            store.health.describe())]}), status_code=503, media_type="application/json")
        await response(scope, receive, send)


def create_app(settings: StoreSettings | None = None, *, dev_key: str | None = None,
               body_limit: int = MAX_BODY_BYTES, request_timeout: float | None = None,
               live_tasks: bool = True) -> Starlette:
    """The application on the store `settings` describe (default: from the environment).
    `dev_key`: a development admin key to store (its hash) when the app starts.
    `live_tasks`: run the live segments' sweep and webhook deliveries in the background."""
    cache = KeyCache()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        warm_up()  # the language's worker processes (store/offload.py)
        # interrupted imports are repaired beside serving: only what depends on the
        # summaries being repaired is refused meanwhile
        async with open_store(settings, repair_in_background=True) as store:
            if dev_key is not None:
                await ensure_development_key(store.db, dev_key)
            app.state.store = store
            async with background(store.db, enabled=live_tasks):
                with start_up_frozen():  # full collections skip it (graph/heap.py)
                    yield {"store": store}

    view = GraphQLView(schema, graphql_ide="graphiql")
    routes = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        Route("/export/segments/{segment_id}.csv", export_segment_csv),
        Route("/export/segments/{segment_id}/events.jsonl", export_segment_events),
        Route("/export/campaigns/{campaign_id}/recipients.csv", export_campaign_recipients),
        Route("/healthz", healthz),
        *web_routes(),
        Route("/readyz", readyz),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(RequestDeadlineMiddleware, seconds=request_timeout),
        Middleware(StoreAvailabilityMiddleware),
        Middleware(AuthenticationMiddleware, backend=ApiKeyBackend(cache),
                   on_error=unauthorized),
        Middleware(BodyLimitMiddleware, limit=body_limit),
    ])
    app.state.key_cache = cache
    app.state.gate = Gate()
    return app
