"""Faults injected into a running store, and what the system did about them.

    .venv/bin/python -m bench.bench_faults [--rounds N] [--data DIR] [--only SCENARIO ...]

Scenarios, each on an embedded store of its own (in DIR, default a temporary folder),
opened as the server opens it (supervised, store/connection.py):

- *store killed during ingestion*: contacts are upserted in batches of 200 while the
  store process is SIGKILLed; a batch counts as acknowledged when upsert_contacts returned
  (its `stored`), and is retried until it is; afterwards every acknowledged row must be
  there.
- *store killed during a preview*: a segment is counted over and over while the store is
  killed; an answer is wrong when it returns a count other than the true one (an error is
  not an answer).
- *server killed during a campaign send*: a separate process sends a campaign and is
  SIGKILLed midway; the campaign must read FAILED (its sender silent), and sending it again
  must end SENT with exactly the segment's recipients.
- *repair interrupted twice*: an import that died leaves its marker; the repair is
  cancelled twice midway; meanwhile event conditions must be refused (never answered
  wrong); the third repair must give exact summaries.

Prints one table row per scenario: faults injected, acknowledged writes, lost, wrong
answers, time to recover (from the fault to the first right answer). Figures are written
down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymongo

from dsl.schema import FieldType
from store import campaigns as campaigns_module
from store.campaigns import create_campaign, get_campaign, send_campaign
from store.connection import StoreSettings, open_store
from store.contacts import upsert_contacts
from store.errors import SummariesRepairingError
from store.fields import define_field
from store.events import EventIngest, repair_interrupted, track_events
from store.segments import create_segment
from store import query
from store.clock import utc_now

ACTOR = "bench:faults"


async def _wait_until(check, timeout: float = 120.0) -> float:
    """Seconds until `check()` holds (polled)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(Exception):
            if await check():
                return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise TimeoutError("the store did not come back")


async def _up(store) -> bool:
    await store.db.command("ping")
    return store.health.available


async def kill_during_ingestion(store, rounds: int) -> dict:
    acknowledged: set[str] = set()
    recover: list[float] = []
    for round_number in range(rounds):
        killed: list[float] = []

        def kill() -> None:
            os.kill(store.embedded.pid, signal.SIGKILL)
            killed.append(time.monotonic())

        killer = asyncio.get_running_loop().call_later(0.5, kill)
        for batch in range(15):
            rows = [{"id": f"r{round_number}-{batch}-{n}", "fields": {"FirstName": "X"}}
                    for n in range(200)]
            while rows:
                try:
                    report = await upsert_contacts(store.db, "main", rows)
                except Exception:  # noqa: BLE001 - not acknowledged: sent again
                    await asyncio.sleep(0.2)
                    continue
                stored_ids = {row["id"] for row in rows} - {
                    error.id for error in report.rejected}
                acknowledged |= stored_ids
                if killed and len(recover) <= round_number and stored_ids:
                    recover.append(time.monotonic() - killed[0])  # writes work again
                rows = [row for row in rows if row["id"] not in stored_ids]
        killer.cancel()
    await _wait_until(lambda: _up(store))
    with pymongo.timeout(300):  # the check reads every row: not bound by the query limit
        present = {document["id"] async for document in store.db.contacts.find(
            {"database": "main"}, {"id": 1})}
    return {"faults": rounds, "acknowledged": len(acknowledged),
            "lost": len(acknowledged - present), "wrong": 0,
            "recover": max(recover) if recover else 0.0}


async def count_members(db, expression: str) -> int:
    """A fresh evaluation now (each call prepares again: a prepared query keeps its plan)."""
    return await query.count(await query.prepare(db, "main", expression=expression,
                                                 now=utc_now()))


async def kill_during_preview(store, rounds: int) -> dict:
    await upsert_contacts(store.db, "main", [{"id": f"p{n}", "fields": {"City": "Krakow"}}
                                             for n in range(300)])
    expression = 'City equals "Krakow"'
    truth = await count_members(store.db, expression)
    wrong = 0
    recover: list[float] = []
    for _ in range(rounds):
        await _wait_until(lambda: _up(store))
        os.kill(store.embedded.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        while True:
            try:
                answer = await count_members(store.db, expression)
            except Exception:  # noqa: BLE001 - refused: not an answer
                await asyncio.sleep(0.1)
                continue
            if answer != truth:
                wrong += 1
                continue
            recover.append(time.monotonic() - killed_at)
            break
    return {"faults": rounds, "acknowledged": 300, "lost": 0, "wrong": wrong,
            "recover": max(recover)}


_SENDER = """
import asyncio, sys
from store.connection import StoreSettings, open_store
from store.campaigns import send_campaign
from store.clock import utc_now
async def main():
    async with open_store(StoreSettings(data_dir=sys.argv[1], db_name="faults")) as store:
        await send_campaign(store.db, sys.argv[2], now=utc_now(), actor="bench:sender")
asyncio.run(main())
"""


async def kill_server_during_send(store, data_dir: Path, rounds: int) -> dict:
    await upsert_contacts(store.db, "main", [
        {"id": f"s{n}", "fields": {"Email": f"s{n}@example.com", "City": "Oslo"}}
        for n in range(3000)])
    segment = await create_segment(store.db, name="Oslo", expression='City equals "Oslo"',
                                   actor=ACTOR)
    truth = await count_members(store.db, 'City equals "Oslo"')
    campaigns_module.SEND_STALE_SECONDS = 2  # the bench does not wait two minutes
    wrong = 0
    recover: list[float] = []
    for round_number in range(rounds):
        campaign = await create_campaign(store.db, name=f"Oslo {round_number}", channel="email",
                                         segment_id=segment.id, actor=ACTOR)
        sender = subprocess.Popen([sys.executable, "-c", _SENDER, str(data_dir), campaign.id],
                                  cwd=Path(__file__).resolve().parent.parent)
        while (await get_campaign(store.db, campaign.id)).status == "draft":
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        sender.kill()
        sender.wait()
        killed_at = time.monotonic()
        while (await get_campaign(store.db, campaign.id)).status == "sending":
            await asyncio.sleep(0.2)
        status = (await get_campaign(store.db, campaign.id)).status
        sent = await send_campaign(store.db, campaign.id, now=utc_now(), actor=ACTOR)
        recover.append(time.monotonic() - killed_at)
        wrong += (sent.status != "sent" or sent.recipient_count != truth
                  or status not in ("failed", "sent"))
    return {"faults": rounds, "acknowledged": truth * rounds, "lost": 0, "wrong": wrong,
            "recover": max(recover)}


async def interrupt_repair_twice(store, rounds: int) -> dict:
    wrong = 0
    recover: list[float] = []
    for round_number in range(rounds):
        contacts = [f"i{round_number}-{n}" for n in range(200)]
        await upsert_contacts(store.db, "main", [{"id": c} for c in contacts])
        events = [{"id": f"i{round_number}-{n}-{k}", "contact": c, "type": "Bench",
                   "time": "2024-05-01T10:00:00Z"} for n, c in enumerate(contacts)
                  for k in range(3)]
        await track_events(store.db, "main", events[:200])
        ingest = EventIngest(store.db, "main")
        await ingest.add(events[200:])
        dead = subprocess.Popen(["true"])
        dead.wait()
        await store.db.summary_pending.update_many({}, {"$set": {"owner.pid": dead.pid}})
        started = time.monotonic()
        expression = "event Bench occurred at least 3 times"
        for delay in (0.05, 0.2):
            repair = asyncio.create_task(repair_interrupted(store.db))
            await asyncio.sleep(delay)
            repair.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await repair
            try:
                answer = await count_members(store.db, expression)
                wrong += answer != 200 * (round_number + 1)
            except SummariesRepairingError:
                pass  # refused meanwhile: right
        await repair_interrupted(store.db)
        recover.append(time.monotonic() - started)
        wrong += await count_members(store.db, expression) != 200 * (round_number + 1)
    return {"faults": 2 * rounds, "acknowledged": 600 * rounds, "lost": 0, "wrong": wrong,
            "recover": max(recover)}


SCENARIOS = {"ingestion": ("store killed during ingestion", kill_during_ingestion),
             "preview": ("store killed during a preview", kill_during_preview),
             "send": ("server killed during a campaign send", kill_server_during_send),
             "repair": ("repair interrupted twice", interrupt_repair_twice)}


async def main(rounds: int, data: Path, only: list[str]) -> None:
    rows = []
    for key in only:
        name, scenario = SCENARIOS[key]
        folder = data / name.replace(" ", "-")
        settings = StoreSettings(data_dir=folder, db_name="faults", query_timeout_ms=5_000)
        async with open_store(settings) as store:
            with contextlib.suppress(Exception):  # declared already (a --data run again)
                await define_field(store.db, "main", "City", FieldType.TEXT)
            if scenario is kill_server_during_send:
                result = await scenario(store, folder, rounds)
            else:
                result = await scenario(store, rounds)
        rows.append((name, result))
        print(f"{name}: {result}", file=sys.stderr, flush=True)
    print("| scenario | faults injected | acknowledged writes | lost | wrong answers "
          "| time to recover (worst) |")
    print("|---|---|---|---|---|---|")
    for name, result in rows:
        print(f"| {name} | {result['faults']} | {result['acknowledged']:,} | {result['lost']} "
              f"| {result['wrong']} | {result['recover']:.1f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segmentql-faults-") as temporary:
        asyncio.run(main(arguments.rounds, arguments.data or Path(temporary), arguments.only))
