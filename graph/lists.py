"""Static lists: create, read, add and remove contacts, page through the members.
(Copying a segment's members into a list is `copySegmentToList`, in graph/segments.py.)"""

from __future__ import annotations

import datetime as dt

import strawberry

from graph.contacts import ContactConnection, contact_from_document
from graph.context import Info, value
from strawberry import UNSET
from graph.errors import ExpectedErrors, SegmentError
from graph.pagination import PageInfo, Edge, page_size, read_page
from graph.permissions import Requires, answers_empty_unless
from store.errors import NotFoundError
from store.fields import DEFAULT_DATABASE
from store.lists import (add_to_list, create_list, find_list, list_lists,
                         list_members, remove_from_list)


@strawberry.type(description="A static list: a named, manually managed set of contacts.")
class StaticList:
    database: str
    name: str
    created_at: dt.datetime | None

    @classmethod
    def from_document(cls, document: dict) -> StaticList:
        return cls(database=document["database"], name=document["name"],
                   created_at=document.get("created_at"))

    @strawberry.field(description="How many contacts are in it.")
    async def member_count(self, info: Info) -> int:
        return await info.context.loaders.list_sizes.load((self.database, self.name))

    @strawberry.field(description="Its members by contact id, a page at a time.")
    async def members(self, info: Info, first: int | None = 50,
                      after: str | None = UNSET) -> ContactConnection:
        first, after = value(first, 50), value(after)
        page = await read_page(list_members(info.context.db, self.database, self.name,
                                            first=page_size(first), after=after))
        return ContactConnection(
            edges=[Edge(node=contact_from_document(member, self.database), cursor=cursor)
                   for member, cursor in page.edges()],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor,
                               has_previous_page=after is not None,
                               start_cursor=page.cursors[0] if page.cursors else None),
            database=self.database, list_name=self.name)


@strawberry.type
class ListResult:
    static_list: StaticList | None = strawberry.field(name="list", default=None)
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type(description="What adding or removing contacts did.")
class ListChangeResult:
    changed: int = strawberry.field(default=0, description="Contacts added (or removed).")
    unchanged: int = strawberry.field(default=0, description="Already in (or not in) the list.")
    unknown: list[str] = strawberry.field(default_factory=list,
                                          description="Ids with no contact in the database.")
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type
class ListQueries:
    @strawberry.field(description="The static lists of a profile database, by name.",
                      extensions=[answers_empty_unless(database="database"), ExpectedErrors()])
    async def lists(self, info: Info,
                    database: str | None = DEFAULT_DATABASE) -> list[StaticList]:
        return [StaticList(database=item.database, name=item.name, created_at=item.created_at)
                for item in await list_lists(info.context.db,
                                             value(database, DEFAULT_DATABASE))]

    @strawberry.field(name="list", description="A static list by name (ignoring letter case).",
                      extensions=[answers_empty_unless(database="database"), ExpectedErrors()])
    async def static_list(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                          name: str) -> StaticList | None:
        database = value(database, DEFAULT_DATABASE)
        try:
            stored = await find_list(info.context.db, database, name)
        except NotFoundError:
            return None
        document = await info.context.loaders.lists.load(f"{database}:{stored}")
        return StaticList(database=database, name=stored,
                          created_at=(document or {}).get("created_at"))


async def _change(info: Info, database: str, name: str, contact_ids: list[strawberry.ID],
                  add: bool) -> ListChangeResult:
    change = add_to_list if add else remove_from_list
    report = await change(info.context.db, database, name, [str(item) for item in contact_ids])
    return ListChangeResult(changed=report.changed, unchanged=report.unchanged,
                            unknown=report.unknown)


@strawberry.type
class ListMutations:
    @strawberry.mutation(description="Create an empty static list (names are unique ignoring "
                                     "letter case).",
                         extensions=[Requires("editor", "change lists", database="database"),
                                     ExpectedErrors()])
    async def create_list(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                          name: str) -> ListResult:
        created = await create_list(info.context.db, value(database, DEFAULT_DATABASE), name,
                                    actor=info.context.actor)
        return ListResult(static_list=StaticList(database=created.database, name=created.name,
                                                 created_at=created.created_at))

    @strawberry.mutation(description="Add contacts to a static list by id.",
                         extensions=[Requires("editor", "change lists", database="database"),
                                     ExpectedErrors()])
    async def add_to_list(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                          name: str, contact_ids: list[strawberry.ID]) -> ListChangeResult:
        return await _change(info, value(database, DEFAULT_DATABASE), name, contact_ids, add=True)

    @strawberry.mutation(description="Remove contacts from a static list by id.",
                         extensions=[Requires("editor", "change lists", database="database"),
                                     ExpectedErrors()])
    async def remove_from_list(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                               name: str, contact_ids: list[strawberry.ID]) -> ListChangeResult:
        return await _change(info, value(database, DEFAULT_DATABASE), name, contact_ids, add=False)


__all__ = ["ListChangeResult", "ListMutations", "ListQueries", "ListResult", "StaticList"]
