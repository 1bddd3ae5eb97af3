"""Look-ups by many keys (`$in`), in chunks.

SecantusDB checks each fetched document against the whole `$in` list, so one look-up of N
keys costs about N x N: 1,000 contact ids in one `$in` took 2.6-5.3 s, ten look-ups of 100
about 0.4-0.5 s, twenty of 50 about 0.27 s (docs/compatibility.md). MongoDB answers either
form from the index; chunks of 50 cost it a few more round trips."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

IN_CHUNK = 50
T = TypeVar("T")


def in_chunks(keys: Sequence[T]) -> Iterator[list[T]]:
    """`keys` in consecutive lists of at most IN_CHUNK (none for no keys)."""
    for start in range(0, len(keys), IN_CHUNK):
        yield list(keys[start:start + IN_CHUNK])
