"""What every resolver gets as `info.context`: the store, the caller's access, the loaders."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from graph.auth import Access, access_of
from graph.limits import Gate
from graph.loaders import Loaders
from store.connection import Store


T = TypeVar("T")


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
