"""Estimates at scale: time and interval of `estimate_segment` against the exact count.

    .venv/bin/python -m bench.bench_estimate --contacts 1000000 --store bench-store-1m --load
    .venv/bin/python -m bench.bench_estimate --store bench-store-1m

`--load` writes the contacts of bench/generate.py (fields, folded text, lists, bucket:
the documents `segmentql import contacts` stores) straight with `insert_many`, without
events: importing a million contacts one batch of upserts at a time takes most of an hour,
and the estimate reads contacts only (event conditions are answered from the contacts'
summaries or counted on the events side whatever the sample). The contacts' secondary
indexes are set aside during the load and built at the end (about 20 minutes for a
million on 2 cores instead of about an hour; the same documents and indexes); a load that
is stopped resumes where it was. Then, for each segment, the exact count once (unless
`--no-exact`) and the median time of `--repeat` estimates per `--sample-size`, the estimate
with its interval, the contacts sampled, whether the interval contains the exact count,
and the load average. Figures go to docs/benchmarks.md ("Estimates").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from pathlib import Path

from pymongo.errors import BulkWriteError

from bench.generate import DEFAULT_NOW, FIELDS, contact
from dsl.schema import FieldType
from dsl.values import bucket_of, coerce_field, fold, to_millis
from store import embedded
from store.collections import CONTACTS
from store.connection import StoreSettings, open_store
from store.contacts import CREATE_TIME, contact_key
from store.estimate import estimate_segment
from store.fields import define_field, load_schema
from store.lists import ensure_list
from store import query

NOW = DEFAULT_NOW
BATCH = 5000
INDEX_RECORD = "bench-contact-indexes.json"  # the indexes set aside by a load

# (label, expression, range, maximum)
CASES = [
    ("field condition", 'City equals "Krakow"', (0, 100), None),
    ("rare value", 'City equals "Dublin"', (0, 100), None),
    ("number between", "Age between 25 and 40", (0, 100), None),
    ("list", 'in list "VIP"', (0, 100), None),
    ("mix with range", 'City in ("Krakow", "Warsaw") and Age > 30 and Newsletter is true',
     (0, 50), None),
    ("mix, range and maximum", 'City in ("Krakow", "Warsaw") and Age between 25 and 40',
     (0, 50), 1000),
    ("all contacts", "Age > 0 or not (Age > 0)", (0, 100), None),
]


async def declare(db) -> None:
    """The fields and the list the generated contacts use (idempotent)."""
    for name, kind in FIELDS.items():
        await define_field(db, "main", name, FieldType(kind))
    await ensure_list(db, "main", "VIP", actor="bench")


async def _insert(db, batch: list[dict]) -> None:
    try:
        await db[CONTACTS].insert_many(batch, ordered=False)
    except BulkWriteError as error:  # a resumed load writes its first batch again
        if any(item.get("code") != 11000 for item in error.details.get("writeErrors", [])):
            raise


def _index_options(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key not in ("key", "v", "ns", "name")}


async def _set_indexes_aside(db, store_dir: Path) -> dict[str, dict]:
    """Drop the contacts' secondary indexes for the load and return their specifications,
    recorded in the store's folder first, so that a load stopped half-way gets them back
    when it is resumed. SecantusDB writes every index entry of a document as it inserts
    it (12 indexes here: about 600 documents/s on 2 cores); without them it inserts
    5,000–7,500/s, and building an index afterwards from one scan costs about two thirds
    as much per entry as keeping it up to date one insert at a time (1,000,000 contacts:
    21 minutes in all). A resumed load pays one more round of builds: opening the store
    and declaring the fields build the missing indexes over the contacts already there
    before they are set aside again."""
    record = store_dir / INDEX_RECORD
    if record.exists():  # an interrupted load: the indexes were set aside already
        specs = json.loads(record.read_text())
    else:
        specs = {name: spec for name, spec in (await db[CONTACTS].index_information()).items()
                 if name != "_id_"}
        record.write_text(json.dumps(specs))
    present = await db[CONTACTS].index_information()
    for name in specs:
        if name in present:
            await db[CONTACTS].drop_index(name)
    return specs


async def _restore_indexes(db, store_dir: Path, specs: dict[str, dict]) -> None:
    """Build the indexes set aside (each from one scan of the contacts), then forget them."""
    present = await db[CONTACTS].index_information()
    for name, spec in specs.items():
        if name in present:
            continue
        begin = time.perf_counter()
        await db[CONTACTS].create_index([tuple(key) for key in spec["key"]], name=name,
                                        **_index_options(spec))
        print(f"index {name} built in {time.perf_counter() - begin:.0f} s", flush=True)
    (store_dir / INDEX_RECORD).unlink(missing_ok=True)


async def load(db, store_dir: Path, contacts: int, until: dt.datetime | None = None) -> None:
    """Write the first `contacts` generated contacts, with the contacts' secondary indexes
    set aside and built once at the end (the same documents and indexes as inserting with
    them). A load that was interrupted resumes: the contacts already there are generated
    again, for the same random sequence, and skipped; the indexes set aside are recorded in
    the store's folder until they are built."""
    await declare(db)
    schema = await load_schema(db, "main")
    present = await db[CONTACTS].estimated_document_count()
    resume = max(0, present - 2 * BATCH)
    specs = await _set_indexes_aside(db, store_dir)
    rng = random.Random(7)
    now = to_millis(dt.datetime.now(dt.timezone.utc))
    start = time.perf_counter()
    batch: list[dict] = []
    for n in range(contacts):
        row = contact(rng, n, NOW)
        if n < resume:
            continue
        fields = {name: coerce_field(schema.get(name).type, value)
                  for name, value in row["fields"].items()}
        fields[CREATE_TIME] = now
        folded = {name: fold(value) for name, value in fields.items()
                  if schema.get(name).type is FieldType.TEXT}
        batch.append({"_id": contact_key("main", row["id"]), "database": "main",
                      "id": row["id"], "bucket": bucket_of("main", row["id"]),
                      "created_at": now, "updated_at": now, "fields": fields,
                      "folded": folded, "lists": row["lists"]})
        if len(batch) == BATCH or n == contacts - 1:
            await _insert(db, batch)
            batch = []
        if (n + 1) % 100_000 == 0:
            print(f"{n + 1:,} contacts in {time.perf_counter() - start:.0f} s", flush=True)
        if until is not None and not batch and dt.datetime.now(dt.timezone.utc) >= until:
            print(f"stopped loading at --load-until: {n + 1:,} contacts", flush=True)
            contacts = n + 1
            break
    print(f"loaded {contacts - resume:,} contacts ({contacts:,} in all) in "
          f"{time.perf_counter() - start:.0f} s; building the indexes", flush=True)
    begin = time.perf_counter()
    await _restore_indexes(db, store_dir, specs)
    print(f"indexes built in {time.perf_counter() - begin:.0f} s", flush=True)


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


async def median_time(work, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = await work()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples), result


async def measure(db, repeat: int, sample_sizes: list[int], exact: bool) -> None:
    total = await db[CONTACTS].estimated_document_count()  # all of them are in "main"
    print(f"{total:,} contacts\n")
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{_load()} (1, 5, 15 min)\n")
    print("| segment | exact | sample size asked | estimate | 95 % interval | sampled | "
          "contains exact | estimate ms (median) | exact count ms | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, text, (low, high), maximum in CASES:
        settings = {"range_from": low, "range_to": high, "maximum": maximum}
        async def exact_count():
            return await query.count(await query.prepare(db, "main", expression=text, now=NOW,
                                                         **settings))
        exact_s, members = (await median_time(exact_count, 1) if exact else (None, None))
        for size in sample_sizes:
            estimate_s, estimate = await median_time(lambda: estimate_segment(
                db, "main", expression=text, now=NOW, sample_size=size, **settings), repeat)
            inside = "—" if members is None else \
                "yes" if estimate.low <= members <= estimate.high else "NO"
            print(f"| {label} `{text}`{f' {low}–{high} %' if (low, high) != (0, 100) else ''}"
                  f"{f' max {maximum}' if maximum else ''} | "
                  f"{'—' if members is None else f'{members:,}'} | {size:,} | "
                  f"{estimate.count:,} | {estimate.low:,}–{estimate.high:,} | "
                  f"{estimate.sampled:,} | {inside} | {estimate_s * 1000:.0f} | "
                  f"{'—' if exact_s is None else f'{exact_s * 1000:.0f}'} | "
                  f"{os.getloadavg()[0]:.1f} |", flush=True)


async def run(store_dir: Path, contacts: int, do_load: bool, repeat: int,
              sample_sizes: list[int], exact: bool, until: dt.datetime | None) -> None:
    lease = await embedded.acquire(store_dir)
    settings = StoreSettings.from_env(mongo_uri=lease.uri, db_name="bench",
                                      query_timeout_ms=600_000)
    try:
        async with open_store(settings) as store:
            if do_load:
                await load(store.db, store_dir, contacts, until)
            await declare(store.db)
            await measure(store.db, repeat, sample_sizes, exact)
    finally:
        lease.release()


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--store", type=Path, default=Path("bench-store-1m"))
    arguments.add_argument("--contacts", type=int, default=1_000_000)
    arguments.add_argument("--load", action="store_true",
                           help="write --contacts generated contacts into --store first")
    arguments.add_argument("--load-until", type=dt.datetime.fromisoformat, default=None,
                           help="stop loading at this UTC time (ISO 8601), then measure")
    arguments.add_argument("--repeat", type=int, default=5)
    arguments.add_argument("--sample-size", type=lambda text: [int(n) for n in text.split(",")],
                           default=[10_000], help="sizes to estimate with, such as 10000,2500")
    arguments.add_argument("--no-exact", action="store_true",
                           help="estimates only (the exact counts take a minute each at 1M)")
    options = arguments.parse_args()
    until = options.load_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.timezone.utc)
    asyncio.run(run(options.store, options.contacts, options.load, options.repeat,
                    options.sample_size, not options.no_exact, until))


if __name__ == "__main__":
    main()
