"""The one clock of the store and the edges: the current time as every stored time is kept
(aware UTC, cut to milliseconds, MongoDB's precision).

`dsl/` never reads the clock; the edges (GraphQL resolvers, the command line) and the
store's own bookkeeping (created_at, updated_at, ...) read it here.
"""

from __future__ import annotations

import datetime as dt

from dsl.values import to_millis


def utc_now() -> dt.datetime:
    return to_millis(dt.datetime.now(dt.timezone.utc))
