"""An in-process signal that new changes were recorded: webhook delivery and subscriptions
wake at once instead of at their next poll (other processes' changes are found by polling)."""

from __future__ import annotations

import asyncio

_waiters: set[asyncio.Event] = set()


def ring() -> None:
    for event in list(_waiters):
        event.set()


async def wait(timeout: float) -> None:
    """Return when changes are recorded in this process, or after `timeout` seconds."""
    event = asyncio.Event()
    _waiters.add(event)
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        _waiters.discard(event)
