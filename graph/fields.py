"""Profile databases, their field schemas and event types."""

from __future__ import annotations

import enum

import strawberry

from dsl.schema import FieldType as StoreFieldType
from graph.context import Info, value
from graph.errors import MutationResult, Refused, attempt, mutation_result, raise_store_failure
from store.events import list_event_types
from store.fields import (DEFAULT_DATABASE, create_database, define_field,
                          list_database_timezones, load_schema, set_database_timezone)


@strawberry.enum
class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


@strawberry.type(description="A field of a profile database's schema.")
class Field:
    name: str
    type: FieldType
    standard: bool = strawberry.field(description="Email, MobilePhone, FirstName, LastName, "
                                                  "CreateTime: in every database from the start.")


@strawberry.type(description="A profile database and its time zone: calendar days (`today`, "
                             "`2024-05-01`, `3 days ago`, windows of days) are its days.")
class Database:
    name: str
    timezone: str = strawberry.field(description="An IANA name such as Europe/Warsaw; UTC "
                                                 "unless set.")


@strawberry.type
class FieldQueries:
    @strawberry.field(description="The fields of a profile database (empty when the database "
                                  "does not exist or is not open to this API key).")
    async def fields(self, info: Info, database: str | None = DEFAULT_DATABASE) -> list[Field]:
        database = value(database, DEFAULT_DATABASE)
        if not info.context.access.can_see(database):
            return []
        schema, errors = await attempt(load_schema(info.context.db, database))
        raise_store_failure(errors)
        if errors:
            return []
        return [Field(name=field.name, type=FieldType(field.type.value),
                      standard=field.standard) for field in schema]

    @strawberry.field(description="The profile databases open to this API key, with their "
                                  "time zones.")
    async def databases(self, info: Info) -> list[Database]:
        return [Database(name=name, timezone=timezone)
                for name, timezone in await list_database_timezones(info.context.db)
                if info.context.access.can_see(name)]

    @strawberry.field(description="The event types seen in a profile database.")
    async def event_types(self, info: Info,
                          database: str | None = DEFAULT_DATABASE) -> list[str]:
        database = value(database, DEFAULT_DATABASE)
        if not info.context.access.can_see(database):
            return []
        types, errors = await attempt(list_event_types(info.context.db, database))
        return types or []


@strawberry.type
class FieldMutations:
    @strawberry.mutation(description="Declare a custom field (admin). Declaring it again with "
                                     "the same type does nothing.")
    async def define_field(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                           name: str, type: FieldType) -> MutationResult:
        database = value(database, DEFAULT_DATABASE)
        async def work():
            info.context.access.require("admin", "declare fields", database)
            return await define_field(info.context.db, database, name,
                                      StoreFieldType(type.value))
        _, errors = await attempt(work())
        return mutation_result(errors)

    @strawberry.mutation(description="Create a profile database with the standard fields and "
                                     "a time zone (admin, with a key open to every database); "
                                     "creating it again with the same time zone does nothing.")
    async def create_database(self, info: Info, name: str,
                              timezone: str | None = "UTC") -> MutationResult:
        async def work():
            info.context.access.require("admin", "create profile databases")
            if info.context.access.key.databases is not None:
                raise Refused("only a key open to every profile database can create one")
            return await create_database(info.context.db, name, value(timezone, "UTC"),
                                         actor=info.context.access.actor, exist_ok=True)
        _, errors = await attempt(work())
        return mutation_result(errors)

    @strawberry.mutation(description="Change a profile database's time zone (admin); every "
                                     "change is logged.")
    async def set_database_timezone(self, info: Info, name: str,
                                    timezone: str) -> MutationResult:
        async def work():
            info.context.access.require("admin", "change time zones", name)
            return await set_database_timezone(info.context.db, name, timezone,
                                               actor=info.context.access.actor)
        _, errors = await attempt(work())
        return mutation_result(errors)

