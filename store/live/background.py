"""The live segments' background work in a server: the sweep of time-based changes (every
second, at the current time) and the webhook deliveries. Both claim their work in the
store (leases), so several servers may share one store."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager, suppress

from store.live.sweep import PROCESS, sweep
from store.live.webhooks import Deliverer
from store.tasks import LIVE_SWEEP, WEBHOOK_DELIVERIES, stop_if_cancelled

log = logging.getLogger(__name__)


def sweep_interval() -> float:
    """Seconds between sweeps (`SEGMENTQL_LIVE_SWEEP_S`, default 1)."""
    try:
        return max(float(os.environ.get("SEGMENTQL_LIVE_SWEEP_S", "1")), 0.05)
    except ValueError:
        return 1.0


async def sweep_forever(db, interval: float) -> None:
    while True:
        try:
            await sweep(db, owner=PROCESS)
        except asyncio.CancelledError:
            raise
        except Exception:  # a store hiccup: the next round tries again
            log.exception("live sweep failed")
        stop_if_cancelled()
        await asyncio.sleep(interval)


@asynccontextmanager
async def background(db, *, enabled: bool = True):
    if not enabled:
        yield
        return
    tasks = [asyncio.create_task(sweep_forever(db, sweep_interval()), name=LIVE_SWEEP),
             asyncio.create_task(Deliverer(db, PROCESS).run(), name=WEBHOOK_DELIVERIES)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
