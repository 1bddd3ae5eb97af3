"""The embedded server's lifecycle: start, reuse across processes, stop with the last
user, data kept across restarts, stale records replaced. Each test has its own data dir
(its own server), separate from the run's shared one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from store import embedded
from store.connection import StoreSettings, open_store
from store.contacts import get_contact, upsert_contacts

pytestmark = pytest.mark.asyncio

# A second process: opens the store on the data dir, prints what it uses, and holds it
# until it reads a line on standard input (or at once with "--exit").
_USER = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from store.connection import StoreSettings, open_store

    async def main():
        settings = StoreSettings(data_dir=Path(sys.argv[1]), db_name="lifecycle")
        async with open_store(settings) as store:
            print(json.dumps({"pid": store.embedded.pid, "port": store.embedded.port}),
                  flush=True)
            if sys.argv[2] != "--exit":
                await asyncio.to_thread(sys.stdin.readline)

    asyncio.run(main())
""")

ROOT = Path(__file__).resolve().parents[2]


def _spawn_user(data_dir: Path, hold: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _USER, str(data_dir), "--hold" if hold else "--exit"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _read_user(process: subprocess.Popen) -> dict:
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=30)
        raise AssertionError(f"the second process failed:\n{process.stderr.read()}")
    return json.loads(line)


def _finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(input="\n", timeout=60)
    assert process.returncode == 0, err


def _alive(pid: int) -> bool:
    return embedded.process_alive(pid)


async def test_start_reuse_and_stop_with_the_last_user(tmp_path: Path) -> None:
    lease = await embedded.acquire(tmp_path)
    try:
        assert lease.started and lease.start_seconds is not None
        recorded = json.loads((tmp_path / "embedded.json").read_text())
        assert (recorded["pid"], recorded["port"]) == (lease.server.pid, lease.server.port)
        assert (tmp_path / "db").is_dir()
        assert (tmp_path / "embedded.log").exists()

        # A second process reuses the running server instead of opening the folder twice.
        second = _spawn_user(tmp_path, hold=False)
        used = _read_user(second)
        _finish(second)
        assert used == {"pid": lease.server.pid, "port": lease.server.port}
        assert _alive(lease.server.pid), "the second user's exit stopped a server in use"
        assert await embedded._ping(lease.server.port)

        # A second lease in this process is a user too.
        again = await embedded.acquire(tmp_path)
        assert not again.started and again.server == lease.server
        assert not await again.aclose()
        assert _alive(lease.server.pid)
    finally:
        stopped = await lease.aclose()
    assert stopped
    assert not _alive(lease.server.pid)
    assert not (tmp_path / "embedded.json").exists()
    assert not await lease.aclose()  # idempotent


async def test_the_last_user_stops_it_whoever_started_it(tmp_path: Path) -> None:
    lease = await embedded.acquire(tmp_path)
    holder = _spawn_user(tmp_path, hold=True)
    try:
        used = _read_user(holder)
        assert used == {"pid": lease.server.pid, "port": lease.server.port}
        assert not await lease.aclose()  # the other process still uses it
        assert _alive(lease.server.pid)
        assert embedded.read_state(tmp_path) == lease.server
    finally:
        _finish(holder)  # the holder is now the last user: it stops the server
    assert not _alive(lease.server.pid)
    assert not (tmp_path / "embedded.json").exists()


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    settings = StoreSettings(data_dir=tmp_path, db_name="restart")
    async with open_store(settings) as store:
        first = store.embedded
        report = await upsert_contacts(store.db, "main", [
            {"id": "c1", "fields": {"Email": "anna@example.com"}, "lists": ["VIP"]}])
        assert report.stored == 1
    assert not _alive(first.pid)
    async with open_store(settings) as store:
        assert store.embedded.pid != first.pid
        contact = await get_contact(store.db, "main", "c1")
    assert contact is not None
    assert contact["fields"]["Email"] == "anna@example.com"
    assert contact["lists"] == ["VIP"]


async def test_a_stale_record_is_replaced(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "embedded.json").write_text(json.dumps({"pid": gone.pid, "port": 1}))
    lease = await embedded.acquire(tmp_path)
    try:
        assert lease.started and lease.server.pid != gone.pid
        assert embedded.read_state(tmp_path) == lease.server
    finally:
        await lease.aclose()


async def test_a_recorded_pid_of_another_program_is_left_alone(tmp_path: Path) -> None:
    # The pid is alive (this very process) but it is not our server: not signalled.
    (tmp_path / "embedded.json").write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    lease = await embedded.acquire(tmp_path)
    try:
        assert lease.started and lease.server.pid != os.getpid()
    finally:
        await lease.aclose()


async def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("not a directory")
    began = time.monotonic()
    with pytest.raises(embedded.EmbeddedServerError) as caught:
        await embedded.acquire(tmp_path, start_timeout=30)
    assert time.monotonic() - began < 30
    message = str(caught.value)
    assert "embedded.log" in message and str(tmp_path) in message
    assert not (tmp_path / "embedded.json").exists()


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


async def test_with_an_idle_period_it_outlives_its_last_user_then_stops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(embedded.IDLE_ENV, "1.5")
    lease = await embedded.acquire(tmp_path)
    server = lease.server
    try:
        assert server.idle_seconds == 1.5 and server.keeper is not None
        assert _alive(server.keeper)
        assert not await lease.aclose()  # the last user leaves it to its keeper
        assert _alive(server.pid) and embedded.read_state(tmp_path) == server
        status = embedded.status(tmp_path)
        assert status.server == server and not status.in_use and status.idle_for < 1.5

        # A command within the idle period uses the same server: no start.
        again = await embedded.acquire(tmp_path)
        assert not again.started and again.server == server
        assert embedded.status(tmp_path).in_use
        time.sleep(2)  # longer than the idle period, but in use: it stays
        assert _alive(server.pid)
        await again.aclose()

        # Idle from this release on: the keeper stops it, then exits.
        assert _wait_until(lambda: not _alive(server.pid), 15)
        assert _wait_until(lambda: not _alive(server.keeper), 5)
        assert not (tmp_path / "embedded.json").exists()
        assert embedded.status(tmp_path).server is None
    finally:
        embedded.stop(tmp_path)


async def test_stop_ends_an_idle_server_and_its_keeper_but_not_one_in_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(embedded.IDLE_ENV, "300")
    lease = await embedded.acquire(tmp_path)
    server = lease.server
    try:
        with pytest.raises(embedded.EmbeddedServerError, match="in use"):
            embedded.stop(tmp_path)
        assert _alive(server.pid)
        await lease.aclose()
        assert _alive(server.pid)
        assert embedded.stop(tmp_path) == server
        assert not _alive(server.pid)
        assert _wait_until(lambda: not _alive(server.keeper), 5)
        assert not (tmp_path / "embedded.json").exists()
        assert embedded.stop(tmp_path) is None
    finally:
        embedded.stop(tmp_path)


async def test_a_bad_idle_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(embedded.IDLE_ENV, "soon")
    with pytest.raises(embedded.EmbeddedServerError, match="SEGMENTQL_STORE_IDLE_SECONDS"):
        embedded.idle_seconds_setting()
    monkeypatch.setenv(embedded.IDLE_ENV, "")
    assert embedded.idle_seconds_setting() == embedded.DEFAULT_IDLE_SECONDS


async def test_the_keeper_stops_a_server_whose_folder_was_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setenv(embedded.IDLE_ENV, "300")
    data_dir = tmp_path / "data"
    lease = await embedded.acquire(data_dir)
    server = lease.server
    await lease.aclose()
    assert _alive(server.pid)
    shutil.rmtree(data_dir)
    try:
        assert _wait_until(lambda: not _alive(server.pid), 30)
        assert _wait_until(lambda: not _alive(server.keeper), 5)
    finally:
        for pid in (server.pid, server.keeper):
            if _alive(pid):
                os.kill(pid, 9)


async def _index_names(store) -> set[str]:
    return {index["name"] async for index in await store.db["contacts"].list_indexes()}


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def test_a_reading_open_skips_the_checks_an_earlier_open_made_on_the_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opening checks are recorded with the running server (embedded.json); a reading
    open then skips them, unless a write was interrupted (its marker is there: repaired
    before anything is read), or the MongoDB database or the server is another one."""
    import socket

    from store.events import EventIngest
    from store.fields import list_databases

    monkeypatch.setenv(embedded.IDLE_ENV, "300")
    settings = StoreSettings(data_dir=tmp_path, db_name="reopen")
    try:
        async with open_store(settings, read_only=True) as store:  # nothing recorded yet
            assert "database_lists" in await _index_names(store)
            await upsert_contacts(store.db, "main", [{"id": "a"}])
            await store.db["contacts"].drop_index("database_lists")  # dropped by hand
        assert "reopen" in json.loads((tmp_path / "embedded.json").read_text())["prepared"]

        async with open_store(settings, read_only=True) as store:  # no checks: not made again
            assert "database_lists" not in await _index_names(store)
        async with open_store(settings) as store:  # a writing open checks everything
            assert "database_lists" in await _index_names(store)
        other = StoreSettings(data_dir=tmp_path, db_name="reopen-other")
        async with open_store(other, read_only=True) as store:  # never prepared: checked
            assert await list_databases(store.db) == ["main"]

        # An import that died between storing events and applying their summaries, and a
        # live maintenance that died: a reading open repairs both before it reads.
        async with open_store(settings) as store:
            ingest = EventIngest(store.db, "main")
            await ingest.add([{"id": "e1", "contact": "a", "type": "MailClick",
                               "time": "2024-05-03T10:00:00Z"}])
            await store.db["summary_pending"].update_many({}, {"$set": {"owner.pid": _dead_pid()}})
            await store.db["live_pending"].insert_one({
                "database": "main", "contacts": [], "cause": "contacts",
                "owner": {"host": socket.gethostname(), "pid": _dead_pid()}})
        async with open_store(settings, read_only=True) as store:
            assert await store.db["summary_pending"].count_documents({}) == 0
            assert await store.db["live_pending"].count_documents({}) == 0
            contact = await store.db["contacts"].find_one({"_id": "main:a"})
            assert contact["events"]["MailClick"]["count"] == 1

        # A new server: nothing recorded, so the first reading open checks everything.
        async with open_store(settings, read_only=True) as store:
            await store.db["contacts"].drop_index("database_lists")
        assert embedded.stop(tmp_path) is not None
        lease = await embedded.acquire(tmp_path)
        assert lease.started
        assert "prepared" not in json.loads((tmp_path / "embedded.json").read_text())
        await lease.aclose()
        async with open_store(settings, read_only=True) as store:
            assert "database_lists" in await _index_names(store)
    finally:
        embedded.stop(tmp_path)
