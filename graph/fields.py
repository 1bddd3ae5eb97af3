"""Profile databases, their field schemas and event types."""

from __future__ import annotations

import enum

import strawberry

from dsl.schema import FieldType as StoreFieldType
from graph.context import Info, value
from graph.errors import ExpectedErrors, MutationResult, Refused
from graph.permissions import Requires, answers_empty_unless
from store.errors import StoreInputError
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
                                  "does not exist or is not open to this API key).",
                      extensions=[answers_empty_unless(database="database"), ExpectedErrors()])
    async def fields(self, info: Info, database: str | None = DEFAULT_DATABASE) -> list[Field]:
        try:
            schema = await load_schema(info.context.db, value(database, DEFAULT_DATABASE))
        except StoreInputError:  # no such database: no fields
            return []
        return [Field(name=field.name, type=FieldType(field.type.value),
                      standard=field.standard) for field in schema]

    @strawberry.field(description="The profile databases open to this API key, with their "
                                  "time zones.")
    async def databases(self, info: Info) -> list[Database]:
        return [Database(name=name, timezone=timezone)
                for name, timezone in await list_database_timezones(info.context.db)
                if info.context.access.can_see(name)]

    @strawberry.field(description="The event types seen in a profile database.",
                      extensions=[answers_empty_unless(database="database"), ExpectedErrors()])
    async def event_types(self, info: Info,
                          database: str | None = DEFAULT_DATABASE) -> list[str]:
        return await list_event_types(info.context.db, value(database, DEFAULT_DATABASE))


@strawberry.type
class FieldMutations:
    @strawberry.mutation(description="Declare a custom field (admin). Declaring it again with "
                                     "the same type does nothing.",
                         extensions=[Requires("admin", "declare fields", database="database"),
                                     ExpectedErrors()])
    async def define_field(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                           name: str, type: FieldType) -> MutationResult:
        await define_field(info.context.db, value(database, DEFAULT_DATABASE), name,
                           StoreFieldType(type.value))
        return MutationResult(ok=True)

    @strawberry.mutation(description="Create a profile database with the standard fields and "
                                     "a time zone (admin, with a key open to every database); "
                                     "creating it again with the same time zone does nothing.",
                         extensions=[Requires("admin", "create profile databases"),
                                     ExpectedErrors()])
    async def create_database(self, info: Info, name: str,
                              timezone: str | None = "UTC") -> MutationResult:
        if info.context.access.key.databases is not None:
            raise Refused("only a key open to every profile database can create one")
        await create_database(info.context.db, name, value(timezone, "UTC"),
                              actor=info.context.actor, exist_ok=True)
        return MutationResult(ok=True)

    @strawberry.mutation(description="Change a profile database's time zone (admin); every "
                                     "change is logged.",
                         extensions=[Requires("admin", "change time zones", database="name"),
                                     ExpectedErrors()])
    async def set_database_timezone(self, info: Info, name: str,
                                    timezone: str) -> MutationResult:
        await set_database_timezone(info.context.db, name, timezone, actor=info.context.actor)
        return MutationResult(ok=True)
