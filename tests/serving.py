"""`segmentql serve` as a real process in tests: a free port, the server on a test's own
database of the shared store, and the wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SEGMENTQL = str(Path(sys.executable).parent / "segmentql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(store_uri: str, database: str, key: str, port: int, **popen) -> subprocess.Popen:
    """`segmentql serve` on 127.0.0.1:`port`, database `database`, admin key `key`."""
    env = {**os.environ, "SEGMENTQL_MONGO_DB": database, "SEGMENTQL_API_KEY": key}
    return subprocess.Popen([SEGMENTQL, "serve", "--port", str(port), "--mongo-uri", store_uri],
                            env=env, **popen)


def wait_answering(process: subprocess.Popen, port: int, timeout: float = 30) -> None:
    """Until the server answers /healthz (it must not exit meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
