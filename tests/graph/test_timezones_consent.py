"""The 2026-11-30 additions over HTTP: databases with time zones, trackEvents createContacts,
consent in and out, and a campaign's skipped members by reason."""

from __future__ import annotations

from tests.graph.seed import CREATE_SEGMENT, NOW


def test_databases_have_time_zones_and_changes_are_refused_clearly(graph) -> None:
    created = graph.run('mutation { createDatabase(name: "shop", timezone: "Europe/Warsaw") '
                        "{ ok errors { message } } }")["createDatabase"]
    assert created == {"ok": True, "errors": []}
    again = graph.run('mutation { createDatabase(name: "shop", timezone: "Europe/Warsaw") '
                      "{ ok } }")["createDatabase"]
    assert again == {"ok": True}  # the same again does nothing
    clash = graph.run('mutation { createDatabase(name: "shop", timezone: "UTC") '
                      "{ ok errors { message } } }")["createDatabase"]
    assert clash["ok"] is False and "already exists (time zone Europe/Warsaw)" in \
        clash["errors"][0]["message"]
    bad = graph.run('mutation { setDatabaseTimezone(name: "shop", timezone: "Mars/Base") '
                    "{ ok errors { message } } }")["setDatabaseTimezone"]
    assert bad["ok"] is False and "not a known time zone" in bad["errors"][0]["message"]
    moved = graph.run('mutation { setDatabaseTimezone(name: "shop", timezone: '
                      '"America/New_York") { ok } }')["setDatabaseTimezone"]
    assert moved == {"ok": True}
    databases = graph.run("{ databases { name timezone } }")["databases"]
    assert {"name": "shop", "timezone": "America/New_York"} in databases
    assert {"name": "main", "timezone": "UTC"} in databases


def test_events_can_create_contacts_and_consent_round_trips(graph) -> None:
    track = """mutation($events: [EventInput!]!, $create: Boolean) {
      trackEvents(database: "main", events: $events, createContacts: $create) {
        stored contactsCreated rejected { index message } } }"""
    events = [{"contact": "new-1", "type": "SpamComplaint", "time": "2024-05-01T10:00:00Z"},
              {"contact": "new-1", "type": "MailOpen", "time": "2024-05-02T10:00:00Z"}]
    refused = graph.run(track, {"events": events})["trackEvents"]
    assert refused["stored"] == 0 and refused["contactsCreated"] == 0
    assert refused["rejected"][0]["message"] == "no contact new-1 in database main"
    made = graph.run(track, {"events": events, "create": True})["trackEvents"]
    assert made == {"stored": 2, "contactsCreated": 1, "rejected": []}

    upsert = """mutation($contacts: [ContactInput!]!) {
      upsertContacts(contacts: $contacts) { stored rejected { message } } }"""
    stored = graph.run(upsert, {"contacts": [
        {"id": "new-1", "fields": {"Email": "n@example.com"},
         "consent": {"sms": "unsubscribed", "email": "subscribed"}},
        {"id": "bad", "consent": {"email": "maybe"}}]})["upsertContacts"]
    assert stored["stored"] == 1 and "consent email is 'maybe'" in stored["rejected"][0]["message"]
    contact = graph.run('{ contact(id: "new-1") { consent fields } }')["contact"]
    assert contact["consent"] == {"email": "subscribed", "sms": "unsubscribed",
                                  "push": "unknown", "suppressed": {"email": "spam_complaint"}}
    assert "CreateTime" in contact["fields"]

    segment = graph.run(CREATE_SEGMENT, {"input": {"name": "New one", "expression":
                                                   'event MailOpen first occurred after '
                                                   '2024-05-01'}})["createSegment"]["segment"]
    campaign = graph.run("""mutation($segment: ID!) {
      createCampaign(name: "To new", channel: EMAIL, segmentId: $segment) { campaign { id } } }""",
                         {"segment": segment["id"]})["createCampaign"]["campaign"]
    sent = graph.run("""mutation($id: ID!, $now: DateTime) {
      sendCampaign(id: $id, now: $now) { campaign { recipientCount skipped { reason count } } } }""",
                     {"id": campaign["id"], "now": NOW})["sendCampaign"]["campaign"]
    assert sent["recipientCount"] == 0
    assert {"reason": "spam_complaint", "count": 1} in sent["skipped"]
    assert {item["reason"] for item in sent["skipped"]} == {
        "no_address", "unsubscribed", "hard_bounce", "spam_complaint"}
