"""Keyset pagination: a page of items with an opaque cursor per item (the Relay shape).

A cursor encodes the sort key of an item (never a position), so a page after it stays
right while items are added or removed before it. It is base64url of a small JSON array
`[kind, key...]`; `kind` stops a segment cursor from being used on, say, recipients.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import orjson

from store.errors import StoreInputError

T = TypeVar("T")

MAX_PAGE = 200
DEFAULT_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """`items` in order, `cursors[i]` the cursor of `items[i]`, `has_next` whether more follow."""

    items: list[T]
    cursors: list[str] = field(default_factory=list)
    has_next: bool = False

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    def edges(self) -> list[tuple[T, str]]:
        return list(zip(self.items, self.cursors))


def check_first(first: int) -> int:
    """The page size, refused outside 0..MAX_PAGE (a client cannot ask for everything)."""
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= MAX_PAGE:
        raise StoreInputError(f"first must be a whole number from 0 to {MAX_PAGE}, not {first!r}",
                              suggestion="page through the rest with the cursor of the last item")
    return first


def encode_cursor(kind: str, *keys: str) -> str:
    data = orjson.dumps([kind, *keys])
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str, size: int) -> tuple[str, ...]:
    """The `size` keys of a cursor of `kind`; StoreInputError for anything else."""
    try:
        text = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError, TypeError, AttributeError):
        data = None
    if (not isinstance(data, list) or len(data) != size + 1 or data[0] != kind
            or not all(isinstance(key, str) for key in data[1:])):
        raise StoreInputError(f"{str(cursor)[:40]!r} is not a cursor of this list",
                              suggestion="pass the cursor of an item of the previous page")
    return tuple(data[1:])
