"""The one clock of the store and the edges: the current time as every stored time is kept
(aware UTC, cut to milliseconds, MongoDB's precision).

`dsl/` never reads the clock. The edges (a GraphQL operation, a command) read it here once
for their evaluation time, which they pass down as `now`; the store reads it only for its
records (created_at, updated_at, a run's `at`, leases, ...), never for an evaluation
(docs/evaluation.md, "The evaluation time").
"""

from __future__ import annotations

import datetime as dt

from dsl.values import to_millis


def utc_now() -> dt.datetime:
    return to_millis(dt.datetime.now(dt.timezone.utc))
