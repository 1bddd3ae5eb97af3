"""The store's background loops (supervision, repair, live sweep, webhook deliveries) and
their cancellation."""

from __future__ import annotations

import asyncio

# The names of the background tasks: what they send to the store is not any request's.
SUPERVISOR = "embedded-store-supervisor"
REPAIR = "summary-repair"
LIVE_SWEEP = "live-sweep"
WEBHOOK_DELIVERIES = "webhook-deliveries"
WEBHOOK_DELIVERY = "webhook-delivery"
BACKGROUND = frozenset({SUPERVISOR, REPAIR, LIVE_SWEEP, WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY})


def in_background() -> bool:
    """Whether the running task is one of the store's background loops."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return False
    return task is not None and task.get_name() in BACKGROUND


def stop_if_cancelled() -> None:
    """In a loop of a background task: end it when it was cancelled. A cancellation that
    arrives during a pymongo operation may come out as that operation's normal end, or as an
    error of its own that the loop catches; a loop that went on would wait for ever, and
    the close of the store (or the server's shutdown) with it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
