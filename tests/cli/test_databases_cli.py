"""`databases list|create|set-timezone`, `import events --create-contacts`, and the day rules
of `eval` following the database's time zone."""

from __future__ import annotations

import orjson


def test_databases_and_their_time_zones(segmentql) -> None:
    assert segmentql("fields", "list").exit_code == 0  # opens the store: `main` exists
    created = segmentql("databases", "create", "shop", "--timezone", "Europe/Warsaw")
    assert (created.exit_code, created.stdout) == (0, "created profile database shop "
                                                      "(Europe/Warsaw)\n")
    taken = segmentql("databases", "create", "shop")
    assert taken.exit_code == 2 and "already exists (time zone Europe/Warsaw)" in taken.stderr
    unknown = segmentql("databases", "set-timezone", "shop", "Mars/Base")
    assert unknown.exit_code == 2 and "'Mars/Base' is not a known time zone" in unknown.stderr
    moved = segmentql("databases", "set-timezone", "shop", "America/New_York")
    assert moved.stdout == "profile database shop: time zone Europe/Warsaw -> America/New_York\n"
    assert segmentql("databases", "list").stdout == "main\tUTC\nshop\tAmerica/New_York\n"


def test_events_create_contacts_and_days_follow_the_zone(segmentql, tmp_path) -> None:
    assert segmentql("databases", "create", "pl", "--timezone", "Europe/Warsaw").exit_code == 0
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(orjson.dumps(row).decode() for row in [
        {"contact": "late", "type": "MailOpen", "time": "2024-03-30T23:30:00Z"},
        {"contact": "early", "type": "MailOpen", "time": "2024-03-30T22:30:00Z"}]) + "\n")
    refused = segmentql("import", "events", str(events), "--database", "pl")
    assert refused.stdout == "stored 0, duplicates 0, rejected 2\n"
    made = segmentql("import", "events", str(events), "--database", "pl", "--create-contacts")
    assert made.stdout == "stored 2, duplicates 0, rejected 0, contacts created 2\n"
    # 2024-03-30T23:30Z is already March 31st in Warsaw
    found = segmentql("eval", "event MailOpen first occurred equals 2024-03-31", "--ids",
                      "--database", "pl", "--now", "2024-04-01T00:00:00Z")
    assert found.stdout == "1\nlate\n"
