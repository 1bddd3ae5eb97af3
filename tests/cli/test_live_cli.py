"""`segmentql live sweep` and `segmentql segments changes`."""

from __future__ import annotations

import json


def test_sweep_moves_forward_and_changes_are_listed(segmentql, tmp_path) -> None:
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text(json.dumps({"id": "a"}) + "\n")
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"contact": "a", "type": "Buy",
                                  "time": "2035-01-01T10:00:00Z"}) + "\n")
    assert segmentql("import", "contacts", str(contacts)).exit_code == 0
    assert segmentql("import", "events", str(events)).exit_code == 0
    created = segmentql("segments", "create", "Recent", "event Buy occurred in last 1 days")
    assert created.exit_code == 0, created.output
    # the purchase lies in the future: it enters the window when time reaches it
    swept = segmentql("live", "sweep", "--now", "2035-01-01T12:00:00Z")
    assert swept.exit_code == 0, swept.output
    assert "main: swept to 2035-01-01T12:00:00" in swept.output
    swept = segmentql("live", "sweep", "--now", "2035-01-03T00:00:00Z")
    assert swept.exit_code == 0, swept.output
    changes = segmentql("segments", "changes", "Recent")
    assert changes.exit_code == 0, changes.output
    assert changes.output.splitlines() == ["2035-01-01T10:00:00Z a entered time",
                                           "2035-01-02T10:00:00.001Z a left time"]
    since = segmentql("segments", "changes", "Recent", "--since", "2035-01-02T00:00:00Z")
    assert since.output.splitlines() == ["2035-01-02T10:00:00.001Z a left time"]
    backwards = segmentql("live", "sweep", "--now", "2035-01-02T00:00:00Z", "--database", "main")
    assert backwards.exit_code == 2
    assert "would move time backwards" in backwards.output
    bad = segmentql("segments", "changes", "Recent", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since 'yesterday'" in bad.output
