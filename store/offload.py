"""CPU work of the language (parse, check, compile, diagnose, complete, explain) kept off
the event loop, so that one long expression never holds up the other requests.

Small inputs (the usual case) run inline: a worker round trip would cost more than the
work. Bigger ones run in a small pool of worker processes rather than threads: a thread
would still hold the interpreter lock the event loop needs at every wake-up, and a cheap
request would wait ~5 ms each time (Python's switch interval), about 100 ms in all.

A call cut off by the request deadline leaves its worker to finish (a worker cannot be
interrupted), which the language's own limits bound (MAX_EXPRESSION_LENGTH, MAX_DEPTH).
A worker that dies takes only its call with it: the pool is made again for the next one.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from dsl import ast
from dsl.json_codec import form_key, from_json, keep_read, read_before

if TYPE_CHECKING:  # imported when a pool is made: most processes never make one
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")

# Characters of text, or nodes of a syntax tree, below which work runs inline.
INLINE_SIZE = 2_000
WORKERS = int(os.environ.get("SEGMENTQL_LANGUAGE_WORKERS", "") or 2)

# How often a worker checks that the process that made it is still there.
PARENT_CHECK_SECONDS = 1.0

_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fork of a process with threads (the server's) may inherit held locks
        _pool = ProcessPoolExecutor(max_workers=WORKERS,
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_follow_parent, initargs=(os.getpid(),))
    return _pool


def _close_pool() -> None:
    """At exit, while the pool's modules are whole: a pool left to the interpreter's
    teardown can be collected after `concurrent.futures.process` was emptied, and its
    callback then prints an ignored AttributeError."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_close_pool)


def _follow_parent(parent: int) -> None:
    """In a worker: exit once the process that made the pool is gone. A server killed
    outright (SIGKILL) cannot stop its workers, and they would live on, orphaned."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def size_of(expr: ast.Expression) -> int:
    """The number of nodes of `expr` (its work scales with it)."""
    count = 0
    for _ in ast.walk(expr):
        count += 1
        if count >= INLINE_SIZE:
            break
    return count


async def run_language(size: int, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """function(*args, **kwargs), inline when `size` is below INLINE_SIZE, else in a worker
    process (function and arguments must pickle: module-level functions, ASTs, schemas)."""
    if size < INLINE_SIZE:
        return function(*args, **kwargs)
    from concurrent.futures.process import BrokenProcessPool

    global _pool
    loop = asyncio.get_running_loop()
    call = functools.partial(function, *args, **kwargs)
    try:
        return await loop.run_in_executor(_executor(), call)
    except BrokenProcessPool:
        _pool = None  # a worker died (killed, out of memory): a fresh pool, one more try
        return await loop.run_in_executor(_executor(), call)


async def read_saved_form(form: dict) -> ast.Expression:
    """A saved JSON form (a segment's definition) as an AST. One read before comes from the
    read-again cache at once; the first read of a big one (validating costs about 20 times
    building) runs in a worker, and its AST is kept here for the next reads."""
    key = form_key(form)
    known = read_before(key)
    if known is not None:
        return known
    expr = await run_language(len(key) if key is not None else INLINE_SIZE, from_json, form)
    keep_read(key, expr)
    return expr


def warm_up() -> None:
    """Start the workers now (a spawned worker takes about a second to import the
    language), so the first big request does not pay for it."""
    for _ in range(WORKERS):
        _executor().submit(_ready)


def _ready() -> bool:
    from dsl.parser import parse

    parse("x = 1")
    return True
