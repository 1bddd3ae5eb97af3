"""Relay connections (`edges { node cursor } pageInfo { hasNextPage endCursor }`) over the
store's keyset pages (store/pages.py): a cursor encodes the sort key of its item, never a
position, so paging stays right while rows are added or removed before the page.

`first` is at most MAX_PAGE (200); a larger one, a negative one or a cursor of another list
is refused with a GraphQL error saying so (a mistake in the request, not in the data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from graph.errors import PublicError
from store.errors import StoreInputError
from store.pages import MAX_PAGE, Page, check_first

T = TypeVar("T")
S = TypeVar("S")


@strawberry.type(description="Where a page ends: pass `endCursor` as `after` for the next one.")
class PageInfo:
    has_next_page: bool = False
    end_cursor: str | None = None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    """Given nothing, an empty page (what a failed search answers with its `errors`)."""

    edges: list[Edge[T]] = strawberry.field(default_factory=list)
    page_info: PageInfo = strawberry.field(default_factory=PageInfo)


def page_info(page: Page, after: str | None) -> PageInfo:
    return PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor,
                    has_previous_page=after is not None,
                    start_cursor=page.cursors[0] if page.cursors else None)


def edges(page: Page[S], convert: Callable[[S], T]) -> list[Edge[T]]:
    return [Edge(node=convert(item), cursor=cursor) for item, cursor in page.edges()]


def connection(page: Page[S], convert: Callable[[S], T], after: str | None) -> Connection[T]:
    return Connection(edges=edges(page, convert), page_info=page_info(page, after))


def empty() -> Connection:
    return Connection()


def page_size(first: int) -> int:
    """`first` checked against the page limit (PublicError when it does not fit)."""
    try:
        return check_first(first)
    except StoreInputError as error:
        raise PublicError(str(error)) from None


async def read_page(work: Awaitable[Page[S]]) -> Page[S]:
    """A store page; a bad `first` or cursor becomes a PublicError (a GraphQL error)."""
    try:
        return await work
    except StoreInputError as error:
        raise PublicError(str(error)) from None


__all__ = ["MAX_PAGE", "Connection", "Edge", "PageInfo", "connection", "edges", "empty",
           "page_info", "page_size", "read_page"]
