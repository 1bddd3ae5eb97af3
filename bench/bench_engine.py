"""Import and evaluation on the embedded store, beside hand-written queries for the same answers.

    .venv/bin/python -m bench.generate --contacts 100000 --events 1000000 --out bench-data
    .venv/bin/python -m bench.bench_engine --data bench-data --store bench-store

Reports: import rates (contacts, events) against the store's raw `insert_many` rate for the
same contact and event documents; then for typical segments the median time of `count` through our
pipeline and through the fastest hand-written query we know for the same answer, the
documents and keys examined (from `explain`), and whether the pipeline touches `events`.
Every hand-written answer is checked equal to ours; ours and the hand-written query run in
turn, so both see the same load. `--skip-import --only SEGMENT` measures again on a loaded
store; `--one-pipeline` runs every plan without parts (docs/compiler.md), the form before
them. Figures go to docs/benchmarks.md.

The data goes to the MongoDB database the command line uses (SEGMENTQL_MONGO_DB, default
`segmentql`), profile database `main`, so `segmentql eval EXPR --data-dir bench-store`
evaluates on it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import orjson

from bench.generate import DEFAULT_NOW
from dsl.ast import EVENT_CONDITIONS, walk
from dsl.compiler import event_count_queries
from dsl.schema import FieldType
from dsl.values import normalize_attributes, parse_iso_datetime
from store import embedded, query
from store.connection import StoreSettings, open_store
from store.events import exact_latest_event_times
from store.fields import define_field
from store.importers import import_contacts, import_events
from store.query import planner

NOW = DEFAULT_NOW
DAY = dt.timedelta(days=1)
RAW_SAMPLE = 200_000


def hand_count(collection: str, pipeline: list[dict]):
    return collection, pipeline + [{"$count": "n"}]


def purchase_total(accumulator: str, test: dict):
    """A total of the purchases' prices over the last 90 days, in its best hand-written
    form: summed on the events side, then the contacts kept."""
    return hand_count("events", [
        {"$match": {"database": "main", "type": "product_purchased",
                    "time": {"$gte": NOW - 90 * DAY, "$lte": NOW}}},
        {"$group": {"_id": "$contact", "n": {accumulator: "$attributes.price"}}},
        {"$match": {"n": test}}])


# (label, expression, range, maximum, hand-written (collection, pipeline) for the same count)
CASES = [
    ("field condition", 'City equals "Krakow"', (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main", "folded.City": "krakow"}}])),
    ("occurred in window", "event MailClick occurred in last 30 days", (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main",
                                         "events.MailClick.last": {"$gte": NOW - 30 * DAY}}}])),
    ("did not occur in window", "event MailOpen did not occur in last 30 days", (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main", "$nor": [
         {"events.MailOpen.last": {"$gte": NOW - 30 * DAY}}]}}])),
    ("counted window", "event MailClick occurred at least 3 times in last 30 days", (0, 100), None,
     hand_count("events", [
         {"$match": {"database": "main", "type": "MailClick",
                     "time": {"$gte": NOW - 30 * DAY, "$lte": NOW}}},
         {"$group": {"_id": "$contact", "n": {"$sum": 1}}}, {"$match": {"n": {"$gte": 3}}}])),
    ("event attribute", "event product_purchased occurred where price > 100", (0, 100), None,
     hand_count("events", [  # two $match stages: one on SecantusDB, which indexes only a
         # $match its index covers entirely (docs/compatibility.md), 8x faster than one
         {"$match": {"database": "main", "type": "product_purchased"}},
         {"$match": {"attributes.price": {"$gt": 100}}},
         {"$group": {"_id": "$contact"}}])),
    ("sum over a window", "event product_purchased sum of price > 500 in last 90 days",
     (0, 100), None, purchase_total("$sum", {"$gt": 500})),
    ("average over a window", "event product_purchased average of price >= 100 in last 90 days",
     (0, 100), None, purchase_total("$avg", {"$gte": 100})),
    # First / last times and consent: the contact documents alone.
    ("last occurred", "event MailOpen last occurred before 30 days ago", (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main", "events.MailOpen.last": {
         "$lt": dt.datetime.combine((NOW - 30 * DAY).date(), dt.time(), dt.timezone.utc)}}}])),
    ("first occurred", "event product_purchased first occurred in last 7 days", (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main", "events.product_purchased.first": {
         "$gte": NOW - 7 * DAY, "$lte": NOW}}}])),
    ("can receive", "can receive email", (0, 100), None,
     hand_count("contacts", [{"$match": {"database": "main",
                                         "fields.Email": {"$nin": [None, ""]},
                                         "consent.email": {"$ne": "unsubscribed"},
                                         "suppression.email": None}}])),
    ("mix, range and maximum",
     'City in ("Krakow", "Warsaw") and Age between 25 and 40 and '
     'event MailOpen occurred in last 90 days', (0, 50), 1000,
     hand_count("contacts", [
         {"$match": {"database": "main", "bucket": {"$gte": 0, "$lt": 5000},
                     "folded.City": {"$in": ["krakow", "warsaw"]},
                     "fields.Age": {"$gte": 25, "$lte": 40},
                     "events.MailOpen.last": {"$gte": NOW - 90 * DAY}}},
         {"$sort": {"bucket": 1, "_id": 1}}, {"$limit": 1000}])),
]


async def counted_queries(prepared: query.PreparedQuery) -> list:
    """The event conditions a count counts on the events side before the pipeline."""
    expr = prepared.inlined
    types = {node.event_type for node in walk(expr) if isinstance(node, EVENT_CONDITIONS)}
    return event_count_queries(expr, prepared.schema, database="main", now=prepared.now,
                               zone=prepared.zone,
                               latest_events=await exact_latest_event_times(prepared.db, "main",
                                                                      types))


def examined(explain: dict) -> tuple[int, int]:
    """(documents, keys) examined, summed over every executionStats in an explain."""
    docs = keys = 0
    stack = [explain]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stats = node.get("executionStats")
            if isinstance(stats, dict):
                docs += stats.get("totalDocsExamined", 0)
                keys += stats.get("totalKeysExamined", 0)
            stack.extend(value for key, value in node.items() if key != "executionStats")
        elif isinstance(node, list):
            stack.extend(node)
    return docs, keys


async def median_times(works: list, repeat: int) -> list[tuple[float, object]]:
    """(median time, last result) of each of `works`, run in turn `repeat` times (one of
    each, then again), so that a change of the machine's load weighs on all of them."""
    samples: list[list[float]] = [[] for _ in works]
    results: list[object] = [None for _ in works]
    for _ in range(repeat):
        for position, work in enumerate(works):
            start = time.perf_counter()
            results[position] = await work()
            samples[position].append(time.perf_counter() - start)
    return [(statistics.median(times), result) for times, result in zip(samples, results)]


async def raw_insert_rate(db, events_path: Path) -> float:
    """The store's own insert_many rate for the same event documents, same indexes."""
    documents = []
    with events_path.open("rb") as handle:
        for line in handle:
            row = orjson.loads(line)
            attributes, folded = normalize_attributes(row.get("attributes"))
            documents.append({"_id": f"main:{row['id']}", "database": "main",
                              "contact": f"main:{row['contact']}", "type": row["type"],
                              "time": parse_iso_datetime(row["time"]),
                              "attributes": attributes, "folded": folded})
            if len(documents) == RAW_SAMPLE:
                break
    raw = db.raw_events
    await raw.drop()
    await raw.create_index([("contact", 1), ("type", 1), ("time", 1)])
    await raw.create_index([("database", 1), ("type", 1), ("time", 1)])
    start = time.perf_counter()
    for offset in range(0, len(documents), 1000):
        await raw.insert_many(documents[offset:offset + 1000], ordered=False)
    rate = len(documents) / (time.perf_counter() - start)
    await raw.drop()
    return rate


async def raw_contacts_rate(db) -> float:
    """The store's own insert_many rate for the contact documents the import stored (read
    back before any event is imported), into a collection with the same indexes."""
    documents = [document async for document in
                 db.contacts.find({"database": "main"}).limit(RAW_SAMPLE)]
    raw = db.raw_contacts
    await raw.drop()
    for name, spec in (await db.contacts.index_information()).items():
        if name != "_id_":
            options = {key: value for key, value in spec.items()
                       if key in ("unique", "sparse", "partialFilterExpression")}
            await raw.create_index(spec["key"], name=name, **options)
    start = time.perf_counter()
    for offset in range(0, len(documents), 1000):
        await raw.insert_many(documents[offset:offset + 1000], ordered=False)
    rate = len(documents) / (time.perf_counter() - start)
    await raw.drop()
    return rate


async def run(data: Path, store_dir: Path, skip_import: bool, repeat: int,
              only: list[str] | None = None, one_pipeline: bool = False) -> None:
    if one_pipeline:  # the form before parts: a semi-join's contacts in one `_id $in`
        planner.ID_CHUNK = sys.maxsize
    lease = await embedded.acquire(store_dir)
    # The MongoDB database `segmentql` itself uses (SEGMENTQL_MONGO_DB, else "segmentql"),
    # so that `segmentql ... --data-dir STORE` reads what was imported here.
    settings = StoreSettings.from_env(mongo_uri=lease.uri, query_timeout_ms=600_000)
    print(f"store {store_dir}, MongoDB database {settings.db_name}, profile database main: "
          f"`segmentql eval EXPR --data-dir {store_dir}` reads the same data", flush=True)
    try:
        async with open_store(settings) as store:
            if not skip_import:
                rates: dict[str, float] = {}
                for name, kind in orjson.loads((data / "fields.json").read_bytes()).items():
                    await define_field(store.db, "main", name, FieldType(kind))
                for label, importer, path in (("contacts", import_contacts, data / "contacts.jsonl"),
                                              ("events", import_events, data / "events.jsonl")):
                    start = time.perf_counter()
                    report = await importer(store, "main", path, progress=False)
                    seconds = time.perf_counter() - start
                    print(f"import {label}: {report.stored} stored, {len(report.rejected)} "
                          f"rejected in {seconds:.1f} s = {report.stored / seconds:,.0f} rows/s",
                          flush=True)
                    rates[label] = report.stored / seconds
                    if label == "contacts":
                        raw = await raw_contacts_rate(store.db)
                        print(f"raw insert_many of the same contact documents: {raw:,.0f} "
                              f"docs/s; import/raw {rates[label] / raw:.2f}", flush=True)
                raw = await raw_insert_rate(store.db, data / "events.jsonl")
                print(f"raw insert_many of the same event documents: {raw:,.0f} docs/s; "
                      f"import/raw {rates['events'] / raw:.2f}", flush=True)
            print("\n| segment | members | ours ms | hand-written ms | ratio | ours docs/keys "
                  "examined | hand docs/keys | events read |")
            print("|---|---|---|---|---|---|---|---|")
            for label, text, (low, high), maximum, (collection, hand) in CASES:
                if only and label not in only:
                    continue
                def prepared():  # each repetition prepares, plans and counts afresh
                    return query.prepare(store.db, "main", expression=text, now=NOW,
                                         range_from=low, range_to=high, maximum=maximum)

                async def ours_count():
                    return await query.count(await prepared())

                async def hand_written():
                    rows = [row async for row in await store.db[collection].aggregate(hand)]
                    return rows[0]["n"] if rows else 0

                (ours_s, ours), (hand_s, theirs) = await median_times(
                    [ours_count, hand_written], repeat)
                assert ours == theirs, (label, ours, theirs)
                selection = await prepared()
                pipeline = await query.plan(selection)
                ours_explain = await store.db.command(
                    "explain", {"aggregate": "contacts", "pipeline": pipeline, "cursor": {}},
                    verbosity="executionStats")
                hand_explain = await store.db.command(
                    "explain", {"aggregate": collection, "pipeline": hand, "cursor": {}},
                    verbosity="executionStats")
                joins = any("$lookup" in stage for stage in pipeline)
                ours_docs, ours_keys = examined(ours_explain)
                counted_docs = counted_keys = 0
                for counted in await counted_queries(selection):
                    docs, keys = examined(await store.db.command(
                        "explain", {"aggregate": "events", "pipeline": counted.pipeline,
                                    "cursor": {}}, verbosity="executionStats"))
                    counted_docs, counted_keys = counted_docs + docs, counted_keys + keys
                hand_docs, hand_keys = examined(hand_explain)
                events = ("joined per contact" if joins else
                          f"counted first ({counted_docs}/{counted_keys})" if counted_docs
                          else "no (0 event documents)")
                print(f"| {label} | {ours} | {ours_s * 1000:.0f} | {hand_s * 1000:.0f} | "
                      f"{ours_s / hand_s:.2f} | {ours_docs + counted_docs}/"
                      f"{ours_keys + counted_keys} | {hand_docs}/{hand_keys} | {events} |",
                      flush=True)
    finally:
        lease.release()


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--data", type=Path, default=Path("bench-data"))
    arguments.add_argument("--store", type=Path, default=Path("bench-store"))
    arguments.add_argument("--skip-import", action="store_true",
                           help="reuse the data already imported into --store")
    arguments.add_argument("--repeat", type=int, default=5)
    arguments.add_argument("--only", action="append", metavar="SEGMENT",
                           choices=[case[0] for case in CASES],
                           help="measure only this segment (by its label; repeatable)")
    arguments.add_argument("--one-pipeline", action="store_true",
                           help="run every plan as one pipeline, without parts (the form "
                                "before store.query.planner.parts, for comparison)")
    options = arguments.parse_args()
    asyncio.run(run(options.data, options.store, options.skip_import, options.repeat,
                    options.only, options.one_pipeline))


if __name__ == "__main__":
    main()
