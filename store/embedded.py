"""The embedded MongoDB-wire server (SecantusDB) that runs when no MongoDB URI is set.

One server per data directory, shared by every process that uses that directory (the
GraphQL server and a CLI command run side by side on one folder of data), started by the
first user and stopped by the last one. The protocol, with `fcntl.flock` locks:

- `<data_dir>/start.lock`, held exclusively, serialises starting and stopping;
- `<data_dir>/users.lock`, held *shared* by every process while it uses the server;
- `<data_dir>/embedded.json` records `{pid, port}` of the running server.

To acquire: take start.lock; reuse the recorded server when its process is alive and
answers `ping`, else start a new one (a stale record is replaced); take a shared lock on
users.lock; drop start.lock. To release: take start.lock; drop the shared lock; try a
non-blocking *exclusive* lock on users.lock: getting it means nobody else uses the
server, so stop it (SIGTERM, wait, SIGKILL as a last resort) and remove embedded.json.

A user that dies without releasing loses its locks with its process (the kernel drops
flock locks), so the server keeps running for the others; the next user to release it
last stops it.

**Idle period.** So that a command run shortly after another does not pay the start-up
again (about 3 s), the server outlives its last user by SEGMENTQL_STORE_IDLE_SECONDS
(default 300; 0 restores "the last user stops it"). Whoever starts the server with an idle
period also starts a *keeper*, a small detached process (`python -m store.embedded keep`)
recorded in embedded.json beside the server. Every user touches `<data_dir>/last-used`
when it acquires and releases; the last user then leaves the server running, and the
keeper, polling, stops it once nobody holds users.lock and last-used is older than the
idle period (the same start.lock / exclusive users.lock test as a release). The keeper
exits when the server is gone. `stop()` (`segmentql store stop`) stops an unused server at
once, keeper included.

**Opening checks done.** embedded.json also records, per MongoDB database, that a process
made the store's opening checks on this server (`record_prepared`, store/connection.py):
a reading command that finds them made skips them (docs/data-model.md, "Opening the
store"). A new server writes a new embedded.json, without the record.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient

log = logging.getLogger(__name__)

STATE_FILE = "embedded.json"
START_LOCK = "start.lock"
USERS_LOCK = "users.lock"
LOG_FILE = "embedded.log"
LAST_USED_FILE = "last-used"
IDLE_ENV = "SEGMENTQL_STORE_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
CONFIG_FILE = "secantusd.toml"
STORAGE_DIR = "db"

START_TIMEOUT_S = 60.0  # the first start on a slow machine (CI, 2 cores) takes a few seconds
STOP_TIMEOUT_S = 20.0  # SIGTERM: the server drains connections and closes WiredTiger
KILL_TIMEOUT_S = 5.0
PING_TIMEOUT_MS = 2000

_CONFIG_TEXT = """\
# SecantusDB settings for SegmentQL's embedded store (see `secantusd-py --help`).
# SegmentQL passes host, port, storage path and log level on the command line; this file
# exists so that no secantusd.toml elsewhere (./, ~/.secantus, /etc/secantus) is picked up.
# Tuning such as `cache_size` can be added here.
"""


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or reached; the message says why."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: its process id and loopback port."""

    pid: int
    port: int
    idle_seconds: float = 0.0  # how long it outlives its last user (0: stopped at once)
    keeper: int | None = None  # the process that stops it when idle

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


def idle_seconds_setting() -> float:
    """SEGMENTQL_STORE_IDLE_SECONDS, or DEFAULT_IDLE_SECONDS; EmbeddedServerError if bad."""
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise EmbeddedServerError(f"{IDLE_ENV}={text!r} must be a number of seconds, 0 or more")
    return seconds


class EmbeddedLease:
    """One process's use of the embedded server of a data directory (see `acquire`).

    `release()` (or `await aclose()`) ends the use; the last user stops the server. It is
    idempotent, and also runs at interpreter exit when it was forgotten."""

    def __init__(self, data_dir: Path, server: EmbeddedServer, users_fd: int,
                 started: bool, start_seconds: float | None) -> None:
        self.data_dir = data_dir
        self.server = server
        self.started = started  # True when this lease started the server
        self.start_seconds = start_seconds  # how long the start took, when it started it
        self._users_fd: int | None = users_fd
        self._lock = threading.Lock()
        atexit.register(self.release)

    @property
    def uri(self) -> str:
        return self.server.uri

    @property
    def released(self) -> bool:
        return self._users_fd is None

    def release(self) -> bool:
        """Stop using the server; stop it when this was its last user. True if it stopped."""
        with self._lock:
            if self._users_fd is None:
                return False
            users_fd, self._users_fd = self._users_fd, None
            atexit.unregister(self.release)
            start_fd = _open_lock(self.data_dir / START_LOCK)
            try:
                fcntl.flock(start_fd, fcntl.LOCK_EX)
                fcntl.flock(users_fd, fcntl.LOCK_UN)
                _touch_last_used(self.data_dir)
                try:
                    fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False  # another process (or lease) still uses it
                state = _read_state(self.data_dir)
                server = state if state is not None else self.server
                if server.idle_seconds > 0 and server.keeper is not None \
                        and process_alive(server.keeper):
                    return False  # its keeper stops it after the idle period
                _stop_with_keeper(server, self.data_dir)
                _remove_state(self.data_dir)
                return True
            finally:
                os.close(users_fd)
                fcntl.flock(start_fd, fcntl.LOCK_UN)
                os.close(start_fd)

    async def aclose(self) -> bool:
        return await asyncio.to_thread(self.release)


async def acquire(data_dir: Path | str, *, start_timeout: float = START_TIMEOUT_S) -> EmbeddedLease:
    """Use the embedded server of `data_dir`: the running one, or a new one started now.

    The data lives in `<data_dir>/db` and survives restarts. Raises EmbeddedServerError
    (with the tail of the server's log) when a new server does not answer in time."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    idle_seconds = idle_seconds_setting()
    start_fd = _open_lock(data_dir / START_LOCK)
    users_fd = _open_lock(data_dir / USERS_LOCK)
    try:
        await asyncio.to_thread(fcntl.flock, start_fd, fcntl.LOCK_EX)
        try:
            previous = _read_state(data_dir)
            server = await _running_server(data_dir)
            started = server is None
            start_seconds = None
            if server is None:
                begin = time.perf_counter()
                # the port it had, if free: the clients of a dead one reconnect by themselves
                server = await _start(data_dir, start_timeout, idle_seconds,
                                      port=previous.port if previous else None)
                start_seconds = time.perf_counter() - begin
                log.info("started the embedded store (pid %d, port %d) in %.2f s",
                         server.pid, server.port, start_seconds)
            # Nobody holds users.lock exclusively without holding start.lock: no wait here.
            fcntl.flock(users_fd, fcntl.LOCK_SH)
            _touch_last_used(data_dir)
        finally:
            fcntl.flock(start_fd, fcntl.LOCK_UN)
    except BaseException:
        os.close(users_fd)
        raise
    finally:
        os.close(start_fd)
    return EmbeddedLease(data_dir, server, users_fd, started, start_seconds)


async def revive(lease: EmbeddedLease, *,
                 start_timeout: float = START_TIMEOUT_S) -> EmbeddedServer:
    """The data directory's server for a lease whose server stopped answering: the one
    another process restarted meanwhile, else a new one started now on the lease's port
    (so the lease holder's client, which knows only that port, reconnects by itself).
    EmbeddedServerError when it cannot be started."""
    start_fd = _open_lock(lease.data_dir / START_LOCK)
    try:
        await asyncio.to_thread(fcntl.flock, start_fd, fcntl.LOCK_EX)
        try:
            server = await _running_server(lease.data_dir)
            if server is None:
                server = await _start(lease.data_dir, start_timeout, port=lease.server.port)
                log.warning("restarted the embedded store (pid %d, port %d)", server.pid,
                            server.port)
            lease.server = server
            return server
        finally:
            fcntl.flock(start_fd, fcntl.LOCK_UN)
    finally:
        os.close(start_fd)


async def answers(port: int, timeout_ms: int = PING_TIMEOUT_MS) -> bool:
    """Whether the server on `port` answers a ping."""
    return await _ping(port, timeout_ms)


def read_state(data_dir: Path | str) -> EmbeddedServer | None:
    """The server recorded in `<data_dir>/embedded.json`, whether or not it still runs."""
    return _read_state(Path(data_dir).resolve())


@dataclass(frozen=True)
class ServerStatus:
    """The embedded server of a data directory: `server` when one runs (else None),
    whether a process uses it now, and for how many seconds nobody has."""

    server: EmbeddedServer | None
    in_use: bool
    idle_for: float | None


def status(data_dir: Path | str) -> ServerStatus:
    """Whether the data directory's server runs, and whether anybody uses it."""
    data_dir = Path(data_dir).resolve()
    if not (data_dir / STATE_FILE).exists():
        return ServerStatus(None, False, None)
    with _start_locked(data_dir):
        server = _read_state(data_dir)
        if server is None or not _is_our_server(server.pid, data_dir):
            return ServerStatus(None, False, None)
        in_use = not _nobody_uses(data_dir)
        return ServerStatus(server, in_use, None if in_use else _idle_for(data_dir))


def prepared(lease: EmbeddedLease, db_name: str) -> str | None:
    """What `record_prepared` recorded for the MongoDB database `db_name` on the lease's
    server (None: nothing, or the record is of another server)."""
    data = _lease_state_data(lease)
    if data is None:
        return None
    found = (data.get("prepared") or {}).get(db_name)
    return found if isinstance(found, str) else None


def record_prepared(lease: EmbeddedLease, db_name: str, key: str) -> None:
    """Record in embedded.json that the store's opening checks (`key`: which ones) were
    made on `db_name` of the running server. The record goes with the server: a server
    started again (or after `stop`) writes a new embedded.json without it."""
    with _start_locked(lease.data_dir):
        data = _lease_state_data(lease)
        if data is None:
            return  # the server was replaced meanwhile: its opener checks it
        data["prepared"] = {**(data.get("prepared") or {}), db_name: key}
        _write_state_data(lease.data_dir, data)


def stop(data_dir: Path | str) -> EmbeddedServer | None:
    """Stop the data directory's server now, with its keeper: the server stopped, or None
    when none ran. EmbeddedServerError when a process still uses it (a `segmentql serve`,
    a command running): that one stops it when it ends, after the idle period."""
    data_dir = Path(data_dir).resolve()
    if not (data_dir / STATE_FILE).exists():
        return None
    with _start_locked(data_dir):
        server = _read_state(data_dir)
        if server is None or not _is_our_server(server.pid, data_dir):
            _remove_state(data_dir)
            return None
        if not _nobody_uses(data_dir):
            raise EmbeddedServerError(
                f"the embedded store of {data_dir} (pid {server.pid}) is in use by another "
                "process (a server or a command); stop that one first")
        _stop_with_keeper(server, data_dir)
        _remove_state(data_dir)
        return server


def keep(data_dir: Path | str, server_pid: int, poll_seconds: float = 1.0) -> None:
    """The keeper's loop: stop the server once nobody has used it for its idle period;
    return when it is stopped or gone (or embedded.json names another server)."""
    data_dir = Path(data_dir).resolve()
    while True:
        time.sleep(poll_seconds)
        if not data_dir.is_dir():  # the folder was removed under a running server
            _stop(EmbeddedServer(pid=server_pid, port=0), data_dir)
            return
        with _start_locked(data_dir):
            server = _read_state(data_dir)
            if server is None or server.pid != server_pid \
                    or not _is_our_server(server_pid, data_dir):
                return
            idle_for = _idle_for(data_dir)
            if idle_for >= server.idle_seconds and _nobody_uses(data_dir):
                _stop(server, data_dir)
                _remove_state(data_dir)
                return


# --- internals -----------------------------------------------------------------------

@contextlib.contextmanager
def _start_locked(data_dir: Path):
    start_fd = _open_lock(data_dir / START_LOCK)
    try:
        fcntl.flock(start_fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(start_fd, fcntl.LOCK_UN)
        os.close(start_fd)


def _nobody_uses(data_dir: Path) -> bool:
    """With start.lock held: whether no process holds users.lock (nobody uses the server)."""
    users_fd = _open_lock(data_dir / USERS_LOCK)
    try:
        fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(users_fd)  # closing drops the lock taken
    return True


def _touch_last_used(data_dir: Path) -> None:
    path = data_dir / LAST_USED_FILE
    path.touch()
    os.utime(path)


def _idle_for(data_dir: Path) -> float:
    try:
        return max(0.0, time.time() - (data_dir / LAST_USED_FILE).stat().st_mtime)
    except OSError:
        return float("inf")  # never used through acquire: idle since ever


def _stop_with_keeper(server: EmbeddedServer, data_dir: Path) -> None:
    _stop(server, data_dir)
    if server.keeper is not None and _is_keeper(server.keeper, data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.keeper, signal.SIGTERM)


def _is_keeper(pid: int, data_dir: Path) -> bool:
    if not process_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return b"keep" in args and str(data_dir).encode() in args


def _start_keeper(data_dir: Path, server_pid: int, idle_seconds: float) -> int:
    poll = min(1.0, max(0.05, idle_seconds / 4))
    with (data_dir / LOG_FILE).open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "store.embedded", "keep", str(data_dir), str(server_pid),
             str(poll)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
            cwd=data_dir, start_new_session=True, close_fds=True)
    threading.Thread(target=process.wait, name=f"reap-keeper-{process.pid}",
                     daemon=True).start()
    return process.pid

def _open_lock(path: Path) -> int:
    # O_CLOEXEC: a child process (the server itself) must never inherit a lock.
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _read_state(data_dir: Path) -> EmbeddedServer | None:
    data = _read_state_data(data_dir)
    if data is None:
        return None
    try:
        keeper = data.get("keeper")
        return EmbeddedServer(pid=int(data["pid"]), port=int(data["port"]),
                              idle_seconds=float(data.get("idle_seconds", 0)),
                              keeper=None if keeper is None else int(keeper))
    except (ValueError, KeyError, TypeError):
        return None


def _read_state_data(data_dir: Path) -> dict | None:
    try:
        data = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _lease_state_data(lease: EmbeddedLease) -> dict | None:
    """embedded.json while it is the lease's server's (None once another replaced it)."""
    data = _read_state_data(lease.data_dir)
    return data if data is not None and data.get("pid") == lease.server.pid else None


def _write_state(data_dir: Path, server: EmbeddedServer) -> None:
    _write_state_data(data_dir, {"pid": server.pid, "port": server.port,
                                 "idle_seconds": server.idle_seconds,
                                 "keeper": server.keeper, "started_at": time.time()})


def _write_state_data(data_dir: Path, data: dict) -> None:
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def _remove_state(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE_FILE).unlink()


def process_alive(pid: int) -> bool:
    """Whether process `pid` is running on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # exited, not yet reaped by its parent
    return True


def _is_our_server(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is the server of this data directory (not a recycled pid)."""
    if not process_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the record
    return str(data_dir / STORAGE_DIR).encode() in args


async def _ping(port: int, timeout_ms: int = PING_TIMEOUT_MS) -> bool:
    client: AsyncMongoClient = AsyncMongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms, timeoutMS=timeout_ms)
    try:
        await client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not answer"
        return False
    finally:
        await client.close()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def _running_server(data_dir: Path) -> EmbeddedServer | None:
    """The recorded server when it runs and answers; else clear the stale record."""
    server = _read_state(data_dir)
    if server is None:
        return None
    if _is_our_server(server.pid, data_dir):
        if await _ping(server.port):
            return server
        log.warning("the embedded store (pid %d) does not answer; restarting it", server.pid)
        await asyncio.to_thread(_stop, server, data_dir)
    _remove_state(data_dir)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_command() -> list[str]:
    script = Path(sys.executable).parent / "secantusd-py"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "secantus"]


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


async def _start(data_dir: Path, timeout: float, idle_seconds: float = 0.0,
                 port: int | None = None) -> EmbeddedServer:
    config = data_dir / CONFIG_FILE
    if not config.exists():
        config.write_text(_CONFIG_TEXT)
    log_path = data_dir / LOG_FILE
    deadline = time.monotonic() + timeout
    attempts = 3  # another program may take the free port before the server binds it
    for attempt in range(1, attempts + 1):
        port = port if attempt == 1 and port is not None and not _port_open(port) \
            else _free_port()
        command = [*_server_command(), "--config", str(config), "--host", "127.0.0.1",
                   "--port", str(port), "--storage-path", str(data_dir / STORAGE_DIR),
                   "--log-level", "WARNING"]
        with log_path.open("ab") as log_file:
            log_file.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting on port "
                           f"{port}\n".encode())
            log_file.flush()
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                cwd=data_dir, start_new_session=True, close_fds=True)
        # Reap it as soon as it exits, so a stopped server never lingers as a zombie.
        threading.Thread(target=process.wait, name=f"reap-secantusd-{process.pid}",
                         daemon=True).start()
        server = EmbeddedServer(pid=process.pid, port=port)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _port_open(port) and await _ping(port):
                if idle_seconds > 0:
                    server = EmbeddedServer(pid=process.pid, port=port,
                                            idle_seconds=idle_seconds,
                                            keeper=_start_keeper(data_dir, process.pid,
                                                                 idle_seconds))
                _write_state(data_dir, server)
                return server
            await asyncio.sleep(0.05)
        else:
            await asyncio.to_thread(_stop, server, data_dir)
            raise EmbeddedServerError(
                f"the embedded store did not answer within {timeout:.0f} s "
                f"(data in {data_dir}); the end of {log_path}:\n{_log_tail(log_path)}")
        if attempt == attempts or time.monotonic() >= deadline:
            raise EmbeddedServerError(
                f"the embedded store exited on start with status {process.returncode} "
                f"(data in {data_dir}); the end of {log_path}:\n{_log_tail(log_path)}")
        log.warning("the embedded store exited on start (status %s); trying another port",
                    process.returncode)
    raise AssertionError("unreachable")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def _stop(server: EmbeddedServer, data_dir: Path) -> None:
    """Stop the server cleanly: SIGTERM and wait; SIGKILL only if it does not exit."""
    if not _is_our_server(server.pid, data_dir):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    if _wait_gone(server.pid, STOP_TIMEOUT_S):
        return
    log.warning("the embedded store (pid %d) did not stop in %.0f s; killing it",
                server.pid, STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)
    _wait_gone(server.pid, KILL_TIMEOUT_S)


if __name__ == "__main__":  # the keeper: python -m store.embedded keep DATA_DIR PID POLL
    if len(sys.argv) == 5 and sys.argv[1] == "keep":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        keep(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("usage: python -m store.embedded keep DATA_DIR SERVER_PID POLL_SECONDS")
