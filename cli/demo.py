"""`segmentql demo`: a realistic demo data set, loaded with the store's own functions.

Contacts with the standard fields and City, Age, Signup, Newsletter, Plan, LifetimeValue;
static lists; six months of events (MailOpen, MailClick, SmsClick, PushClick with campaign
and url, PageVisit with url, product_purchased with price and category, cart_abandoned);
saved segments that use the language (including an `in segment` reference); campaigns, one
of them sent.

Idempotent: every contact and event has a fixed id, every object a fixed name, and the
times are measured from the moment the demo was first loaded (the creation time of the
list "Demo contacts"), so a second run stores nothing new. When the last step (the sent
campaign) is there already, a run only says so, unless `reload` is set.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from dsl.values import to_millis
from store.campaigns import create_campaign, find_campaign, send_campaign
from store.clock import utc_now
from store.connection import Store
from store.contacts import upsert_contacts
from store.errors import NotFoundError
from store.events import EventIngest
from store.fields import define_field, ensure_database
from store.lists import ensure_list, list_lists
from store.results import WriteReport
from store.live.rebuild import ensure_built
from store.segments import create_segment, find_segment

ACTOR = "segmentql demo"
DEFAULT_CONTACTS = 3000
CONTACT_BATCH = 1000
EVENT_BATCH = 2000
DAYS = 180
SEED = 20240601
ALL_LIST = "Demo contacts"
FIELDS = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean",
          "Plan": "text", "LifetimeValue": "number"}
CITIES = [("Krakow", 18), ("Warsaw", 22), ("Gdansk", 9), ("Wroclaw", 10), ("Poznan", 8),
          ("Lodz", 6), ("Berlin", 8), ("Prague", 6), ("Vienna", 5), ("London", 5), ("Paris", 3)]
FIRST_NAMES = ["Anna", "Piotr", "Maria", "Jakub", "Zofia", "Jan", "Julia", "Tomasz", "Lena",
               "Marek", "Ewa", "Pawel", "Olga", "Adam", "Eva", "Lukas", "Sophie", "Tom"]
LAST_NAMES = ["Nowak", "Kowalski", "Wisniewska", "Wojcik", "Kaminski", "Lewandowska", "Zielinski",
              "Schmidt", "Novak", "Muller", "Smith", "Dubois"]
PLANS = [("free", 60), ("pro", 30), ("business", 10)]
CATEGORIES = ["shoes", "bags", "shirts", "hats", "socks", "coats"]
PAGES = ["/", "/pricing", "/pricing/teams", "/blog/segments", "/docs", "/signup", "/contact"]
MAIL_CAMPAIGNS = ["spring-sale", "summer-launch", "weekly-digest", "winback", "product-news"]
EVENT_MIX = [("MailOpen", 34), ("MailClick", 14), ("PageVisit", 24), ("product_purchased", 9),
             ("SmsClick", 5), ("PushClick", 6), ("cart_abandoned", 8)]

SEGMENTS = [
    dict(name="Engaged last 30 days",
         expression="any of (event MailOpen occurred in last 30 days, "
                    "event MailClick occurred in last 30 days)",
         description="Opened or clicked an email in the last 30 days.", tags=["Engagement"]),
    dict(name="Krakow newsletter readers",
         expression='City equals "Krakow" and Newsletter is true',
         description="Newsletter subscribers in Krakow.", tags=["Geo", "Newsletter"]),
    dict(name="Big spenders",
         expression="event product_purchased occurred at least 2 times in last 90 days "
                    "where price > 100",
         description="Two or more purchases over 100 in the last quarter.", tags=["Revenue"]),
    dict(name="Pricing page visitors",
         expression='visited url contains "/pricing" in last 14 days and not in list "VIP"',
         description="Looked at pricing lately; not VIPs yet.", tags=["Sales"]),
    dict(name="Lapsed subscribers",
         expression="Newsletter is true and event MailOpen did not occur in last 60 days",
         description="Subscribed, but no email opened in two months.",
         tags=["Newsletter", "Winback"]),
    dict(name="Engaged buyers",
         expression='in segment "Engaged last 30 days" and '
                    "event product_purchased occurred in last 30 days",
         description="Engaged by email and bought something this month.",
         tags=["Engagement", "Revenue"]),
    dict(name="Young city sample",
         expression='City in ("Warsaw", "Gdansk") and Age between 18 and 30 and '
                    'Plan is not equal to "business"',
         description="Half of the young Warsaw and Gdansk contacts, at most 200.",
         tags=["Geo", "Sample"], range_from=0, range_to=50, maximum=200),
    dict(name="Shoes abandoners",
         expression='event cart_abandoned occurred in last 7 days where category equals "shoes" '
                    "and event product_purchased did not occur in last 7 days",
         description="Left shoes in the cart this week and bought nothing.", tags=["Revenue"]),
]
CAMPAIGNS = [("Summer sale", "email", "Engaged last 30 days", True),
             ("Pricing follow-up", "sms", "Pricing page visitors", False)]


@dataclass
class DemoReport:
    contacts: WriteReport = field(default_factory=WriteReport)
    events: WriteReport = field(default_factory=WriteReport)
    segments_created: int = 0
    campaigns_created: int = 0
    already_loaded: bool = False


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in weighted], [weight for _, weight in weighted])[0]


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact_id(n: int) -> str:
    return f"demo-{n:05d}"


def make_contact(rng: random.Random, n: int, anchor: dt.datetime) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    signup = anchor - dt.timedelta(days=rng.uniform(0, 3 * 365))
    fields: dict = {"FirstName": first, "LastName": last, "Signup": _iso(signup),
                    "CreateTime": _iso(signup), "Plan": _pick(rng, PLANS)}
    if rng.random() < 0.9:
        fields["Email"] = f"{first}.{last}.{n}@example.com".lower()
    if rng.random() < 0.6:
        fields["MobilePhone"] = f"+48{600000000 + n}"
    if rng.random() < 0.95:
        fields["City"] = _pick(rng, CITIES)
    if rng.random() < 0.9:
        fields["Age"] = rng.randint(18, 75)
    if rng.random() < 0.85:
        fields["Newsletter"] = rng.random() < 0.55
    if rng.random() < 0.7:
        fields["LifetimeValue"] = round(rng.lognormvariate(5, 1), 2)
    lists = [ALL_LIST]
    if rng.random() < 0.05:
        lists.append("VIP")
    if rng.random() < 0.03:
        lists.append("Beta testers")
    return {"id": contact_id(n), "fields": fields, "lists": lists}


def make_events(rng: random.Random, n: int, anchor: dt.datetime) -> list[dict]:
    """A contact's events over the DAYS before the anchor; activity is skewed (most
    contacts do little, a few a lot), never more than 60 events."""
    count = min(60, int(rng.expovariate(1 / 5)))
    events = []
    for index in range(count):
        kind = _pick(rng, EVENT_MIX)
        attributes: dict = {}
        if kind in ("MailOpen", "MailClick", "SmsClick", "PushClick"):
            attributes["campaign"] = rng.choice(MAIL_CAMPAIGNS)
        if kind in ("MailClick", "PageVisit", "PushClick"):
            attributes["url"] = f"https://shop.example{rng.choice(PAGES)}"
        if kind == "product_purchased":
            attributes["price"] = round(rng.lognormvariate(4, 0.8), 2)
            attributes["category"] = rng.choice(CATEGORIES)
        if kind == "cart_abandoned":
            attributes["value"] = round(rng.lognormvariate(4, 0.7), 2)
            attributes["category"] = rng.choice(CATEGORIES)
        time = anchor - dt.timedelta(seconds=rng.uniform(0, DAYS * 86400))
        events.append({"id": f"demo-e{n:05d}-{index:02d}", "contact": contact_id(n),
                       "type": kind, "time": _iso(time), "attributes": attributes})
    return events


async def _anchor(store: Store, database: str) -> dt.datetime:
    """The moment the demo was first loaded: when its list "Demo contacts" was made."""
    await ensure_list(store.db, database, ALL_LIST, actor=ACTOR)
    for item in await list_lists(store.db, database):
        if item.name == ALL_LIST and item.created_at is not None:
            return to_millis(item.created_at.replace(second=0, microsecond=0))
    return to_millis(utc_now().replace(second=0, microsecond=0))


async def _complete(store: Store, database: str) -> bool:
    try:
        campaign = await find_campaign(store.db, database, CAMPAIGNS[0][0])
    except NotFoundError:
        return False
    return campaign.status == "sent"


async def load_demo(store: Store, database: str = "main", *,
                    contacts: int = DEFAULT_CONTACTS, reload: bool = False,
                    say: Callable[[str], None] = lambda text: None) -> DemoReport:
    report = DemoReport()
    db = store.db
    await ensure_database(db, database)
    if not reload and await _complete(store, database):
        report.already_loaded = True
        say(f"the demo data is loaded already in profile database {database} "
            "(--reload loads it again; nothing is duplicated)")
        await ensure_built(db, database)  # live since before live segments existed
        return report
    for name, kind in FIELDS.items():
        await define_field(db, database, name, kind)
    anchor = await _anchor(store, database)
    for name in ("VIP", "Beta testers"):
        await ensure_list(db, database, name, actor=ACTOR)
    say(f"fields and lists ready; times are relative to {_iso(anchor)}")

    rng = random.Random(SEED)
    rows = [make_contact(rng, n, anchor) for n in range(contacts)]
    for start in range(0, len(rows), CONTACT_BATCH):
        report.contacts.add(await upsert_contacts(db, database, rows[start:start + CONTACT_BATCH]))
        say(f"contacts: {min(start + CONTACT_BATCH, len(rows))} of {len(rows)} written")
    say(f"contacts: stored {report.contacts.stored}, rejected {len(report.contacts.rejected)}")

    events = [event for n in range(contacts) for event in make_events(rng, n, anchor)]
    ingest = EventIngest(db, database)
    for start in range(0, len(events), EVENT_BATCH):
        report.events.add(await ingest.add(events[start:start + EVENT_BATCH]))
        say(f"events: {min(start + EVENT_BATCH, len(events))} of {len(events)} written")
    say("events: updating the contacts' event summaries")
    await ingest.apply()
    say(f"events: stored {report.events.stored}, already there {report.events.duplicates}, "
        f"rejected {len(report.events.rejected)}")

    ids = {}
    for definition in SEGMENTS:
        try:
            segment = await find_segment(db, database, definition["name"])
        except NotFoundError:
            segment = await create_segment(db, database=database, actor=ACTOR, **definition)
            report.segments_created += 1
        ids[definition["name"]] = segment.id
    await ensure_built(db, database)  # every segment's membership maintained from now on
    say(f"segments: {len(SEGMENTS)} ({report.segments_created} new), live")

    campaigns = []
    for name, channel, target, send in CAMPAIGNS:
        try:
            campaign = await find_campaign(db, database, name)
        except NotFoundError:
            campaign = await create_campaign(db, name=name, channel=channel,
                                             segment_id=ids[target], actor=ACTOR)
            report.campaigns_created += 1
        if send and campaign.status != "sent":
            say(f"campaign {name}: sending (freezing its recipients)")
            campaign = await send_campaign(db, campaign.id, now=utc_now(), actor=ACTOR)
        campaigns.append(campaign)
    say(f"campaigns: {len(CAMPAIGNS)} ({report.campaigns_created} new)")
    for campaign, (_, channel, target, _) in zip(campaigns, CAMPAIGNS):
        state = (f"sent to {campaign.recipient_count} recipients" if campaign.status == "sent"
                 else f"a {campaign.status}, not sent")
        say(f"campaign {campaign.name}: {state} ({channel}, segment {target})")
    return report
