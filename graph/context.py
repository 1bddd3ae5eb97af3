"""What every resolver gets as `info.context`: the store, the caller's access, the loaders,
and the operation's evaluation time `now`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo

from graph.auth import Access, access_of
from graph.limits import Gate
from graph.loaders import Loaders
from store.clock import utc_now
from store.connection import Store


T = TypeVar("T")

# The evaluation time of the operation being executed (set by EvaluationTime). A context
# variable, not a Context field: a WebSocket shares one Context among all the operations
# it runs, each in its own task, and each must have its own time.
_operation_now: ContextVar[dt.datetime | None] = ContextVar("operation_now", default=None)


class EvaluationTime(SchemaExtension):
    """The edge's one read of the clock for GraphQL: every field of one operation (an HTTP
    request, or one operation on a WebSocket) that evaluates an expression without an
    explicit `now` evaluates at the same instant, `info.context.now`."""

    def on_operation(self) -> Iterator[None]:
        token = _operation_now.set(utc_now())
        try:
            yield
        finally:
            _operation_now.reset(token)


@dataclass
class Context:
    request: Request | None
    store: Store
    access: Access | None  # None only where nothing runs (see context_of)
    gate: Gate
    loaders: Loaders = field(init=False)
    # a WebSocket's connection_init payload (where a browser sends its API key)
    connection_params: dict | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store.db)

    @property
    def db(self) -> AsyncDatabase:
        return self.store.db

    @property
    def actor(self) -> str:
        return self.access.actor

    @property
    def now(self) -> dt.datetime:
        """The operation's evaluation time: what a field evaluates at when not given `now`."""
        moment = _operation_now.get()
        if moment is None:
            raise RuntimeError("no GraphQL operation is running (EvaluationTime sets its now)")
        return moment

    async def heavy(self, work: Coroutine[Any, Any, T]) -> T:
        """Run store-heavy work in one of the gate's slots (graph/limits.py Gate)."""
        try:
            async with self.gate.slot():
                return await work
        finally:
            work.close()  # never started (the gate refused): no "never awaited" warning


def context_of(request: Request) -> Context:
    # No access only on GraphiQL's page, where nothing is executed (graph/auth.py).
    # (on a WebSocket without an Authorization header, access comes with connection_init)
    return Context(request=request, store=request.scope["state"]["store"],
                   access=access_of(request), gate=request.app.state.gate)


Info = StrawberryInfo[Context, None]


def value(given, default=None):
    """An optional argument's value: `default` when it was left out (UNSET) or null."""
    from strawberry import UNSET

    return default if given is UNSET or given is None else given
