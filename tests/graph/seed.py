"""A small data set loaded through the GraphQL API itself (admin key)."""

from __future__ import annotations

NOW = "2024-06-01T00:00:00Z"

FIELDS = [("City", "TEXT"), ("Age", "NUMBER"), ("Signup", "DATE"), ("Newsletter", "BOOLEAN")]

CONTACTS = [
    {"id": "c1", "fields": {"Email": "anna@example.com", "City": "Krakow", "Age": 31,
                            "Signup": "2024-05-01T10:00:00Z", "Newsletter": True},
     "lists": ["VIP"]},
    {"id": "c2", "fields": {"Email": "bob@example.com", "MobilePhone": "+48500000002",
                            "City": "Warsaw", "Age": 45, "Newsletter": False}},
    {"id": "c3", "fields": {"MobilePhone": "+48500000003", "City": "krakow", "Age": 22}},
    {"id": "c4", "fields": {"Email": "dan@example.com", "City": "Gdansk", "Age": 60,
                            "Newsletter": True}, "lists": ["VIP"]},
    {"id": "c5", "fields": {"Email": "eve@example.com", "Age": 28}},
]

EVENTS = [
    {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-20T10:00:00Z",
     "attributes": {"campaign": "spring", "url": "https://shop.example/x"}},
    {"id": "e2", "contact": "c1", "type": "MailClick", "time": "2024-05-25T10:00:00Z",
     "attributes": {"campaign": "spring"}},
    {"id": "e3", "contact": "c2", "type": "MailOpen", "time": "2024-05-28T08:00:00Z",
     "attributes": {"campaign": "spring"}},
    {"id": "e4", "contact": "c3", "type": "product_purchased", "time": "2024-05-30T12:00:00Z",
     "attributes": {"price": 120, "category": "shoes"}},
    {"id": "e5", "contact": "c4", "type": "PageVisit", "time": "2024-05-29T12:00:00Z",
     "attributes": {"url": "https://shop.example/pricing"}},
]

DEFINE_FIELD = """mutation($database: String, $name: String!, $type: FieldType!) {
  defineField(database: $database, name: $name, type: $type) { ok errors { message code } } }"""

UPSERT = """mutation($database: String, $contacts: [ContactInput!]!) {
  upsertContacts(database: $database, contacts: $contacts) {
    stored duplicates rejected { index id message } errors { message code } } }"""

TRACK = """mutation($database: String, $events: [EventInput!]!) {
  trackEvents(database: $database, events: $events) {
    stored duplicates rejected { index id message } errors { message code } } }"""

CREATE_SEGMENT = """mutation($input: SegmentInput!) {
  createSegment(input: $input) {
    segment { id name version database expression json tags inBin rangeFrom rangeTo maximum }
    errors { message line column code } } }"""


def load(graph, database: str = "main") -> None:
    if database != "main":
        data = graph.run('mutation($n: String!) { createDatabase(name: $n) { ok errors { message } } }',
                         {"n": database})
        assert data["createDatabase"]["ok"], data
    for name, kind in FIELDS:
        data = graph.run(DEFINE_FIELD, {"database": database, "name": name, "type": kind})
        assert data["defineField"] == {"ok": True, "errors": []}
    data = graph.run(UPSERT, {"database": database, "contacts": CONTACTS})
    assert data["upsertContacts"]["stored"] == len(CONTACTS), data
    data = graph.run(TRACK, {"database": database, "events": EVENTS})
    assert data["trackEvents"]["stored"] == len(EVENTS), data


def create_segment(graph, name: str, expression: str, *, key: str | None = None, **more) -> dict:
    data = graph.run(CREATE_SEGMENT, {"input": {"name": name, "expression": expression, **more}},
                     key=key)
    result = data["createSegment"]
    assert result["errors"] == [], result
    return result["segment"]
