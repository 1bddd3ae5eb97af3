"""A server SIGKILLed while it repairs an interrupted import, twice, then started again:
while the repair runs the server serves (and /readyz says a repair runs), conditions on
events are refused or answered exactly, never from half-repaired summaries; afterwards
the summaries and event-type counts equal the stored events and no acknowledged write is
lost.

To kill the server during its repair, not before or after it, the import's process is
still alive when the server starts (its marker is a live ingest's: nothing to repair)
and dies once the server is ready, so the repair starts under our eyes (a serving process
repairs what an import dying beside it left, within a second or two)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid

import httpx

from store.connection import open_store
from store.contacts import upsert_contacts
from store.events import EventIngest, track_events
from tests.conftest import drop_database, fresh_settings
from tests.serving import free_port, serve

KEY = "sqk_repair-faults-" + uuid.uuid4().hex
CONTACTS = 300  # a repair of a few seconds on the shared store
BUY_TWICE = "event Buy occurred at least 2 times"


async def _leave_an_interrupted_import(settings, owner: int) -> None:
    """Contacts and one acknowledged Buy each; then an import of a second Buy each (and a
    Visit) by process `owner`, stopped after inserting its events, before applying them."""
    async with open_store(settings) as store:
        ids = [f"r{n}" for n in range(CONTACTS)]
        for start in range(0, CONTACTS, 500):
            await upsert_contacts(store.db, "main", [{"id": c} for c in ids[start:start + 500]])
        acknowledged = await track_events(store.db, "main", [
            {"id": f"a-{c}", "contact": c, "type": "Buy", "time": "2024-05-01T10:00:00Z"}
            for c in ids])
        assert acknowledged.stored == CONTACTS
        ingest = EventIngest(store.db, "main")
        await ingest.add([{"id": f"b-{c}", "contact": c, "type": "Buy",
                           "time": "2024-05-02T10:00:00Z"} for c in ids]
                         + [{"id": f"v-{c}", "contact": c, "type": "Visit",
                             "time": "2024-05-03T10:00:00Z"} for c in ids[:100]])
        ingest.abandon()
        await _set_owner(store.db, owner)


async def _set_owner(db, pid: int) -> None:
    await db.summary_pending.update_many({}, {"$set": {"owner.pid": pid}})


def _importer() -> subprocess.Popen:
    """A process standing for the import (alive until it is killed)."""
    return subprocess.Popen(["sleep", "300"])


async def _exact(settings) -> list[str]:
    """What differs between the stored events and the summaries, the records, the markers."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(settings.mongo_uri, tz_aware=True)
    problems = []
    try:
        db = client[settings.db_name]
        truth: dict[tuple[str, str], int] = {}
        async for group in await db.events.aggregate([
                {"$match": {"database": "main"}},
                {"$group": {"_id": {"c": "$contact", "t": "$type"}, "n": {"$sum": 1}}}]):
            truth[(group["_id"]["c"], group["_id"]["t"])] = group["n"]
        if sum(n for (_, kind), n in truth.items() if kind == "Buy") != 2 * CONTACTS:
            problems.append("Buy events lost")
        async for contact in db.contacts.find({"database": "main"}, {"events": 1}):
            for kind, summary in (contact.get("events") or {}).items():
                if truth.get((contact["_id"], kind)) != summary["count"]:
                    problems.append(f"{contact['_id']} {kind}: {summary['count']}")
        summarised = await db.contacts.count_documents({"database": "main",
                                                        "events.Buy.count": 2})
        if summarised != CONTACTS:
            problems.append(f"{summarised} contacts summarised with 2 Buy")
        async for record in db.event_types.find({"database": "main"}):
            counted = sum(n for (_, kind), n in truth.items() if kind == record["type"])
            if record["count"] != counted or record.get("applied"):
                problems.append(f"event type {record['type']}: {record['count']} of {counted}")
        if await db.summary_pending.count_documents({}):
            problems.append("a marker is left")
    finally:
        await client.close()
    return problems


async def _markers(settings, owner: int | None = None) -> int:
    """The markers left; with `owner`, they are given to that (living) process first."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(settings.mongo_uri)
    try:
        if owner is not None:
            await _set_owner(client[settings.db_name], owner)
        return await client[settings.db_name].summary_pending.count_documents({})
    finally:
        await client.close()


class Server:
    def __init__(self, settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = serve(settings.mongo_uri, settings.db_name, KEY, self.port,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)

    def ready(self) -> str | None:
        """/readyz's text, None while the server does not listen yet."""
        try:
            answer = httpx.get(f"{self.url}/readyz", timeout=10)
        except httpx.TransportError:
            assert self.process.poll() is None, "the server exited"
            return None
        assert answer.status_code == 200, answer.text
        return answer.text

    def count(self, expression: str) -> int | str:
        """A preview's count, or the error code it was refused with."""
        answer = httpx.post(f"{self.url}/graphql", headers={"Authorization": f"Bearer {KEY}"},
                            json={"query": "query($e: String!) { previewSegment(input: "
                                           "{expression: $e}) { count errors { code } } }",
                                  "variables": {"e": expression}}, timeout=60)
        body = answer.json()
        assert answer.status_code == 200 and "errors" not in body, body
        preview = body["data"]["previewSegment"]
        return preview["errors"][0]["code"] if preview["errors"] else preview["count"]

    def kill(self) -> None:
        """SIGKILL the server and its language workers (its process group): a crash of the
        whole server, leaving no worker behind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        with contextlib.suppress(ProcessLookupError):  # workers it left
            os.killpg(self.process.pid, signal.SIGKILL)


def test_a_server_killed_during_a_repair_twice_comes_back_exact(store_server) -> None:
    settings = fresh_settings(store_server)
    server = None
    importer = _importer()
    try:
        asyncio.run(_leave_an_interrupted_import(settings, importer.pid))
        answers: list[int | str] = []
        for kill in range(2):  # the repair interrupted twice, each time by a SIGKILL
            if kill:  # the half-repaired state stays; the import "dies" again under our eyes
                importer = _importer()
                assert asyncio.run(_markers(settings, owner=importer.pid)) == 1
            server = Server(settings)
            deadline = time.monotonic() + 60
            while server.ready() != "ready":
                assert time.monotonic() < deadline, "the server never became ready"
                time.sleep(0.1)
            if not kill:  # (after a killed repair, some summaries may be repaired already)
                assert server.count(BUY_TWICE) == 0  # a live import's events: not counted yet
            importer.kill()
            importer.wait()
            while "repairing" not in server.ready():
                assert time.monotonic() < deadline, "no repair seen running"
                time.sleep(0.02)
            answers.append(server.count(BUY_TWICE))  # meanwhile: refused or exact
            assert server.count("") == CONTACTS  # what needs no summary is served
            server.kill()
            assert asyncio.run(_markers(settings)) == 1, "the kill did not interrupt the repair"

        server = Server(settings)  # opening the store repairs, beside serving
        deadline = time.monotonic() + 120
        while server.ready() != "ready":
            assert time.monotonic() < deadline, "the repair never finished"
            time.sleep(0.2)
        answers.append(server.count(BUY_TWICE))
        assert answers[-1] == CONTACTS
        # the marker stood through each count made during a repair: each was refused
        assert answers == ["UNAVAILABLE", "UNAVAILABLE", CONTACTS], answers
        assert asyncio.run(_exact(settings)) == []
    finally:
        importer.kill()
        importer.wait()
        if server is not None:
            server.stop()
        drop_database(store_server, settings.db_name)
