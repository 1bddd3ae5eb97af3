"""The server's start-up objects kept out of the garbage collector's full collections.

A full (generation 2) collection holds the interpreter while it walks every tracked object.
A serving app holds about 110,000 of them (the schema, the grammar, the modules' tables,
the store's client), 70 ms a walk on a 2-core machine (docs/graphql.md): a stall of every
request in flight, each time the requests' own allocations trigger one. Frozen (gc.freeze),
they are skipped; what the requests make is collected as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_serving = 0  # apps between start-up and stop in this process (tests run several)


@contextmanager
def start_up_frozen() -> Iterator[None]:
    """While the body runs (an app serving), what exists now is frozen out of full
    collections; when the last app of the process stops, it is collectable again."""
    global _serving
    with _lock:
        gc.collect()  # garbage of the start-up itself is freed, not frozen for good
        gc.freeze()
        _serving += 1
    try:
        yield
    finally:
        with _lock:
            _serving -= 1
            if _serving == 0:
                gc.unfreeze()
