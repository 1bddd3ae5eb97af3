"""Helpers of the GraphQL benchmarks: a `segmentql serve` process on loopback, and the
embedded store kept up between its restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SEGMENTQL = str(Path(sys.executable).parent / "segmentql")
BENCH_KEY = "sqk_bench-key-0123456789abcdefghijkl"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen | None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


class Server:
    """`segmentql serve` on 127.0.0.1:<port> over the embedded store in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, key: str = BENCH_KEY,
                 command: list[str] | None = None, log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.key = key
        self.command = command or [SEGMENTQL, "serve", "--port", str(self.port),
                                   "--data-dir", str(data_dir)]
        self.log = log or data_dir / "bench-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "SEGMENTQL_API_KEY": self.key}
        env.pop("SEGMENTQL_MONGO_URI", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)
        wait_ready(self.url, self.process)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def run_demo(data_dir: Path, contacts: int) -> None:
    subprocess.run([SEGMENTQL, "demo", "--contacts", str(contacts), "--data-dir", str(data_dir)],
                   check=True, env={key: value for key, value in os.environ.items()
                                    if key != "SEGMENTQL_MONGO_URI"})
