"""A realistic, deterministic contact and event data set, as the importers' JSON Lines files.

    .venv/bin/python -m bench.generate --contacts 100000 --events 1000000 --out bench-data

Contacts have the standard fields and City, Age, Signup, Newsletter; activity is skewed
(a few contacts do most things, as in real lists); events span the year before `--now`:
opens, clicks, page visits with urls, purchases with price and category, SMS clicks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

import orjson

CITIES = ["Krakow", "Warsaw", "Gdansk", "Wroclaw", "Poznan", "Lodz", "Berlin", "Prague",
          "Vienna", "Paris", "London", "Madrid", "Rome", "Lisbon", "Oslo", "Dublin"]
CATEGORIES = ["shoes", "bags", "shirts", "hats", "socks", "coats"]
PAGES = ["/", "/pricing", "/blog/segments", "/docs", "/signup", "/contact", "/pricing/teams"]
EVENT_MIX = [("MailOpen", 40), ("MailClick", 20), ("PageVisit", 25), ("product_purchased", 10),
             ("SmsClick", 5)]
FIELDS = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean"}
DEFAULT_NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact(rng: random.Random, n: int, now: dt.datetime) -> dict:
    fields: dict = {"FirstName": f"Name{n}"}
    if rng.random() < 0.9:
        fields["Email"] = f"user{n}@example.com"
    if rng.random() < 0.6:
        fields["MobilePhone"] = f"+48{500000000 + n}"
    if rng.random() < 0.95:
        fields["City"] = CITIES[min(int(rng.expovariate(0.35)), len(CITIES) - 1)]
    if rng.random() < 0.9:
        fields["Age"] = rng.randint(18, 80)
    fields["Signup"] = iso(now - dt.timedelta(days=rng.uniform(0, 3 * 365)))
    if rng.random() < 0.8:
        fields["Newsletter"] = rng.random() < 0.5
    lists = ["VIP"] if rng.random() < 0.05 else []
    return {"id": f"c{n}", "fields": fields, "lists": lists}


def event(rng: random.Random, n: int, contacts: int, now: dt.datetime) -> dict:
    # Pareto-skewed activity: low ids are the busy contacts.
    who = min(int(rng.paretovariate(1.2)) - 1, contacts - 1) if rng.random() < 0.5 \
        else rng.randrange(contacts)
    kind = rng.choices([name for name, _ in EVENT_MIX], [weight for _, weight in EVENT_MIX])[0]
    attributes: dict = {}
    if kind in ("MailOpen", "MailClick", "SmsClick"):
        attributes["campaign"] = f"campaign-{rng.randrange(24)}"
    if kind in ("MailClick", "PageVisit"):
        attributes["url"] = f"https://shop.example{rng.choice(PAGES)}"
    if kind == "product_purchased":
        attributes["price"] = round(rng.lognormvariate(3.5, 0.8), 2)
        attributes["category"] = rng.choice(CATEGORIES)
    time = now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
    return {"id": f"e{n}", "contact": f"c{who}", "type": kind, "time": iso(time),
            "attributes": attributes}


def write(out: Path, contacts: int, events: int, now: dt.datetime, seed: int = 7) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with (out / "contacts.jsonl").open("wb") as handle:
        for n in range(contacts):
            handle.write(orjson.dumps(contact(rng, n, now)) + b"\n")
    with (out / "events.jsonl").open("wb") as handle:
        for n in range(events):
            handle.write(orjson.dumps(event(rng, n, contacts, now)) + b"\n")
    (out / "fields.json").write_bytes(orjson.dumps(FIELDS))


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--contacts", type=int, default=100_000)
    arguments.add_argument("--events", type=int, default=1_000_000)
    arguments.add_argument("--out", type=Path, default=Path("bench-data"))
    options = arguments.parse_args()
    write(options.out, options.contacts, options.events, DEFAULT_NOW)
    print(f"wrote {options.contacts} contacts and {options.events} events to {options.out}")


if __name__ == "__main__":
    main()
