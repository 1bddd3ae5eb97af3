"""API keys over GraphQL: who am I (`me`), and for admins: list, create, revoke keys."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from graph.context import Info, value
from strawberry import UNSET
from graph.errors import ExpectedErrors, MutationResult, Refused, SegmentError
from graph.permissions import Requires, answers_empty_unless
from store.api_keys import ApiKey as StoredKey
from store.api_keys import create_api_key, list_api_keys, revoke_api_key


@strawberry.enum
class Role(enum.Enum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


@strawberry.type(description="An API key (never its secret).")
class ApiKey:
    id: strawberry.ID
    name: str
    role: Role
    databases: list[str] | None = strawberry.field(description="null: every profile database.")
    created_at: dt.datetime
    created_by: str
    development: bool


def key_from_store(key: StoredKey) -> ApiKey:
    return ApiKey(id=strawberry.ID(key.key_id), name=key.name, role=Role(key.role),
                  databases=None if key.databases is None else list(key.databases),
                  created_at=key.created_at, created_by=key.created_by,
                  development=key.development)


@strawberry.type
class ApiKeyResult:
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(default=None,
                                       description="The secret: shown this once, never stored.")
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type
class KeyQueries:
    @strawberry.field(description="The API key of this request.")
    def me(self, info: Info) -> ApiKey:
        return key_from_store(info.context.access.key)

    @strawberry.field(description="Every API key (admin; empty for others).",
                      extensions=[answers_empty_unless(role="admin")])
    async def api_keys(self, info: Info) -> list[ApiKey]:
        access = info.context.access
        return [key_from_store(key) for key in await list_api_keys(info.context.db)
                if access.key.databases is None or (
                    key.databases is not None and set(key.databases) <= set(access.key.databases))]


@strawberry.type
class KeyMutations:
    @strawberry.mutation(description="Create an API key (admin) for some profile databases "
                                     "(null: all). The secret is in the result, once.",
                         extensions=[Requires("admin", "create API keys"), ExpectedErrors()])
    async def create_api_key(self, info: Info, name: str, role: Role,
                             databases: list[str] | None = UNSET) -> ApiKeyResult:
        databases = value(databases)
        access = info.context.access
        if access.key.databases is not None:  # a key can only give what it has
            if databases is None:
                raise Refused("this API key cannot create a key for every profile database")
            for database in databases:
                access.require_database(database)
        key, secret = await create_api_key(info.context.db, name=name, role=role.value,
                                           databases=databases, actor=access.actor)
        return ApiKeyResult(api_key=key_from_store(key), key=secret)

    @strawberry.mutation(description="Revoke an API key by id (admin); it stops working within "
                                     "seconds.",
                         extensions=[Requires("admin", "revoke API keys"), ExpectedErrors()])
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> MutationResult:
        if info.context.access.key.databases is not None:
            raise Refused("only a key open to every profile database can revoke keys")
        await revoke_api_key(info.context.db, str(id))
        info.context.request.app.state.key_cache.clear()
        return MutationResult(ok=True)
