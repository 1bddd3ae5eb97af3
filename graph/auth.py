"""Authentication (the API key of every request) and authorization (role, databases).

Every request to `/graphql` and `/export/...` carries `Authorization: Bearer <api key>`;
a missing, malformed or unknown key is answered with HTTP 401 before anything else runs.
The one exception is the GraphiQL page itself (GET `/graphql` from a browser, no query):
it holds no data, and GraphiQL then sends the key the user types in its headers pane.

Keys are looked up by their SHA-256 (store/api_keys.py) and cached for KEY_CACHE_SECONDS,
so a revoked key stops working within that time.

What a key may do (`Access`): a viewer reads; an editor also writes segments, lists and
campaigns; an admin also declares fields, ingests contacts and events, makes databases and
keys. A profile database outside the key's `databases` does not exist for it: queries
answer empty or null, mutations are refused in `errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from cachetools import TTLCache
from starlette.types import ASGIApp, Receive, Scope, Send

from graph.errors import Refused
from store.api_keys import ApiKey, find_api_key, hash_key

KEY_CACHE_SECONDS = 10.0
KEY_CACHE_SIZE = 1000
PRINCIPAL = "segmentql.principal"
PROTECTED = ("/graphql", "/export/")

ROLE_WORDS = {"viewer": "read", "editor": "read and change segments, lists and campaigns",
              "admin": "do everything"}


@dataclass(frozen=True)
class Access:
    """What the key of a request may see and do."""

    key: ApiKey

    @property
    def actor(self) -> str:
        """Who changes are recorded as: `key:<name>`."""
        return f"key:{self.key.name}"

    def can_see(self, database: str) -> bool:
        return self.key.can_see(database)

    def require_database(self, database: str) -> None:
        if not self.can_see(database):
            raise Refused(f"profile database {database} is not open to this API key",
                          code="FORBIDDEN")

    def require(self, role: str, doing: str, database: str | None = None) -> None:
        """Refuse (Refused, an entry in `errors`) unless the key has `role` (and sees
        `database`)."""
        if not self.key.at_least(role):
            raise Refused(f"this API key ({self.key.role}) may not {doing}; that needs the "
                          f"{role} role", code="FORBIDDEN")
        if database is not None:
            self.require_database(database)


class KeyCache:
    """Recently verified keys (by hash), so a request does not always cost a look-up: at
    most `size`, each for `seconds` (a revoked key stops working within that time)."""

    def __init__(self, seconds: float = KEY_CACHE_SECONDS, size: int = KEY_CACHE_SIZE) -> None:
        self._keys: TTLCache[str, ApiKey] = TTLCache(maxsize=size, ttl=seconds)

    async def find(self, db, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        cached = self._keys.get(digest)
        if cached is not None:
            return cached
        key = await find_api_key(db, secret)
        if key is not None:  # unknown keys are never cached: no memory for junk
            self._keys[digest] = key
        return key

    def clear(self) -> None:
        self._keys.clear()


def _is_ide_page(scope: Scope) -> bool:
    """GET /graphql from a browser without a query: the GraphiQL page (strawberry's rule)."""
    if scope["method"] != "GET" or scope["path"].rstrip("/") != "/graphql":
        return False
    query = scope.get("query_string", b"")
    if any(part.split(b"=", 1)[0] == b"query" for part in query.split(b"&")):
        return False
    accept = next((value for name, value in scope["headers"] if name == b"accept"), b"")
    return b"text/html" in accept or b"*/*" in accept


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            try:
                text = value.decode("latin-1").strip()
            except UnicodeDecodeError:
                return None
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            return token.strip()
    return None


async def unauthorized(send: Send, message: str) -> None:
    body = orjson.dumps({"errors": [{"message": message}]})
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="segmentql"')]})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Checks the API key of every protected request; puts its `Access` in the scope."""

    def __init__(self, app: ASGIApp, cache: KeyCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED) \
                or _is_ide_page(scope):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await unauthorized(send, "an API key is required: send the header "
                                     "Authorization: Bearer <api key>")
            return
        store = scope["state"]["store"]
        key = await self.cache.find(store.db, token)
        if key is None:
            await unauthorized(send, "the API key is not valid")
            return
        scope[PRINCIPAL] = Access(key)
        await self.app(scope, receive, send)


    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A key in the handshake's Authorization header is checked here (a bad one is
        refused before the connection opens); without one, the GraphQL view reads it from
        connection_init (graph/app.py)."""
        token = bearer_token(scope)
        if token is not None:
            key = await self.cache.find(scope["state"]["store"].db, token)
            if key is None:
                await send({"type": "websocket.close", "code": 4401,
                            "reason": "the API key is not valid"})
                return
            scope[PRINCIPAL] = Access(key)
        await self.app(scope, receive, send)


def access_of(scope: Scope) -> Access:
    return scope[PRINCIPAL]


ROLES_HELP = "; ".join(f"{role}: {words}" for role, words in ROLE_WORDS.items())
