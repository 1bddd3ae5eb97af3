"""Authentication (the API key of every request) and authorization (role, databases).

Every request to `/graphql` and `/export/...` carries `Authorization: Bearer <api key>`;
a missing, malformed or unknown key is answered with HTTP 401 before anything else runs
(Starlette's AuthenticationMiddleware with `ApiKeyBackend`; `unauthorized` is its answer).
The one exception is the GraphiQL page itself (GET `/graphql` from a browser, no query):
it holds no data, and GraphiQL then sends the key the user types in its headers pane.
A WebSocket with a key in its handshake's header is checked the same way (a bad key is
refused before the connection opens); without one, the key comes in connection_init
(graph/app.py, `GraphQLView.on_ws_connect`).

Keys are looked up by their SHA-256 (store/api_keys.py) and cached for KEY_CACHE_SECONDS,
so a revoked key stops working within that time.

What a key may do (`Access`): a viewer reads; an editor also writes segments, lists and
campaigns; an admin also declares fields, ingests contacts and events, makes databases and
keys. A profile database outside the key's `databases` does not exist for it: queries
answer empty or null, mutations are refused in `errors` (graph/permissions.py declares
what each field needs).
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import TTLCache
from starlette.authentication import (AuthCredentials, AuthenticationBackend,
                                      AuthenticationError, BaseUser)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from graph.errors import Refused
from store.api_keys import ApiKey, find_api_key, hash_key

KEY_CACHE_SECONDS = 10.0
KEY_CACHE_SIZE = 1000
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


def _is_ide_page(conn: HTTPConnection) -> bool:
    """GET /graphql from a browser without a query: the GraphiQL page (strawberry's rule)."""
    if conn.scope["method"] != "GET" or conn.url.path.rstrip("/") != "/graphql":
        return False
    if "query" in conn.query_params:
        return False
    accept = conn.headers.get("accept", "")
    return "text/html" in accept or "*/*" in accept


def bearer_token(authorization: object) -> str | None:
    """The key of an `Authorization: Bearer <key>` value (None when it is not one)."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class ApiKeyUser(BaseUser):
    """The request's API key as Starlette's `request.user`; `access` says what it may do."""

    def __init__(self, access: Access) -> None:
        self.access = access

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.access.key.name

    @property
    def identity(self) -> str:
        return self.access.key.key_id


class ApiKeyBackend(AuthenticationBackend):
    """Checks the API key of every protected request (Starlette's AuthenticationMiddleware
    calls it); an unprotected one (pages, probes, GraphiQL's page) goes on without a user."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        websocket = conn.scope["type"] == "websocket"
        if not websocket and (not conn.url.path.startswith(PROTECTED) or _is_ide_page(conn)):
            return None
        token = bearer_token(conn.headers.get("authorization"))
        if token is None:
            if websocket:  # a browser cannot set the header: the key comes in connection_init
                return None
            raise AuthenticationError("an API key is required: send the header "
                                      "Authorization: Bearer <api key>")
        key = await self.cache.find(conn.state.store.db, token)
        if key is None:
            # on a WebSocket Starlette closes it before accepting: the handshake gets 403
            raise AuthenticationError("the API key is not valid")
        return AuthCredentials(["authenticated"]), ApiKeyUser(Access(key))


def unauthorized(conn: HTTPConnection, error: AuthenticationError) -> Response:
    """The answer to a request without a valid key: 401, how to authenticate, and why."""
    return JSONResponse({"errors": [{"message": str(error)}]}, status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="segmentql"'})


def access_of(conn: HTTPConnection) -> Access | None:
    """The request's `Access` (None where no key was needed or, on a WebSocket, not yet
    given)."""
    user = conn.user
    return user.access if isinstance(user, ApiKeyUser) else None


ROLES_HELP = "; ".join(f"{role}: {words}" for role, words in ROLE_WORDS.items())
