"""`segmentql segments ...`, `export`, `lists ...` and `campaigns ...` against the shared
store server, each test on a database of its own (the `segmentql` fixture)."""

from __future__ import annotations

import csv
import io

import orjson
import pytest


@pytest.fixture
def cli(segmentql, monkeypatch, tmp_path):
    """`segmentql` on a database with a City field and three contacts; changes are made as
    user alice."""
    monkeypatch.setenv("USER", "alice")
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text("\n".join(orjson.dumps(row).decode() for row in [
        {"id": "c1", "fields": {"Email": "anna@example.com", "City": "Krakow, PL"}},
        {"id": "c2", "fields": {"Email": "bob@example.com", "City": "Warsaw"}},
        {"id": "c3", "fields": {"City": "Krakow, PL"}},
    ]) + "\n")
    assert segmentql("fields", "add", "City", "text").exit_code == 0
    assert segmentql("import", "contacts", str(contacts)).exit_code == 0
    return segmentql


def ok(result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_create_show_list_and_duplicate(cli) -> None:
    created = ok(cli("segments", "create", "Krakow", 'City starts with "krakow"',
                     "--description", "People in Krakow", "--tag", "geo", "--tag", "pl",
                     "--range", "0:100", "--maximum", "10"))
    assert created.startswith("created segment Krakow (id ") and "version 1" in created
    duplicate = cli("segments", "create", "KRAKOW", "")
    assert duplicate.exit_code == 2
    assert "a segment named Krakow already exists" in duplicate.stderr
    bad = cli("segments", "create", "Bad", "City equals")
    assert bad.exit_code == 2 and "line 1, column" in bad.stderr
    shown = ok(cli("segments", "show", "krakow"))
    assert "version:       1" in shown and "count:         2" in shown
    assert 'expression:    City starts with "krakow"' in shown
    assert "last count:    never" in shown  # read before this count
    again = ok(cli("segments", "show", "Krakow", "--no-count"))
    assert "last count:    2 at " in again and "count:         " not in again
    ok(cli("segments", "create", "All", ""))
    listed = ok(cli("segments", "list")).splitlines()
    assert [line.split("  ")[2] for line in listed] == ["All", "Krakow"]
    assert listed[1].endswith("[geo, pl]  2 members")  # the maintained count
    missing = cli("segments", "show", "Nobody")
    assert missing.exit_code == 2 and "no segment named 'Nobody'" in missing.stderr


def test_delete_restore_purge_history(cli) -> None:
    ok(cli("segments", "create", "Base", "City has value"))
    ok(cli("segments", "create", "User", 'in segment "Base"'))
    refused = cli("segments", "delete", "Base")
    assert refused.exit_code == 2 and "it is used by segment User" in refused.stderr
    assert ok(cli("segments", "delete", "User")) == "moved segment User to the bin\n"
    assert "User" in ok(cli("segments", "list", "--bin"))
    assert ok(cli("segments", "restore", "user")) == "restored segment User\n"
    ok(cli("segments", "delete", "User"))
    purged = ok(cli("segments", "purge", "User"))
    assert purged.startswith("purged segment User")
    assert cli("segments", "restore", "User").exit_code == 2
    history = ok(cli("segments", "history", "Base")).splitlines()
    assert history[0].startswith("v1  ") and "cli:alice" in history[0]
    assert history[1].strip() == "City has value"


def test_export_to_stdout_and_file(cli, tmp_path) -> None:
    created = ok(cli("segments", "create", "Krakow", 'City equals "krakow, pl"'))
    segment_id = created.split("id ")[1].split(",")[0]
    text = ok(cli("export", "Krakow"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:2] == ["id", "Email"] and rows[0][-1] == "City"
    assert sorted(row[0] for row in rows[1:]) == ["c1", "c3"]
    assert {row[-1] for row in rows[1:]} == {"Krakow, PL"}
    out = tmp_path / "out.csv"
    assert ok(cli("export", segment_id, "--out", str(out))) == ""
    written = out.read_bytes().decode("utf-8")
    assert written.endswith("\r\n")  # CSV line ends (the test runner's stdout shows \n)
    assert written.replace("\r\n", "\n") == text
    assert not (tmp_path / "out.csv.part").exists()
    missing = cli("export", "Nothing", "--out", str(tmp_path / "none.csv"))
    assert missing.exit_code == 2 and not (tmp_path / "none.csv").exists()


def test_lists_and_campaigns(cli) -> None:
    assert ok(cli("lists", "create", "Winners")) == "created list Winners\n"
    assert cli("lists", "create", "WINNERS").exit_code == 2
    added = cli("lists", "add", "winners", "c1", "c2", "ghost")
    assert added.exit_code == 0
    assert added.stdout == "added 2, already in the list 0, unknown 1\n"
    assert "no contact ghost" in added.stderr
    ok(cli("segments", "create", "Winners", 'in list "Winners"'))
    created = ok(cli("campaigns", "create", "Spring", "--channel", "email",
                     "--segment", "winners"))
    assert created.startswith("created campaign Spring (id ")
    bad = cli("campaigns", "create", "Fax", "--channel", "fax", "--segment", "Winners")
    assert bad.exit_code == 2 and "'fax' is not a channel" in bad.stderr
    sent = ok(cli("campaigns", "send", "spring", "--now", "2024-06-01T12:00:00Z"))
    assert sent == ("sent campaign Spring to 2 recipients (segment version 1, at "
                    "2024-06-01T12:00:00Z)\n")
    again = ok(cli("campaigns", "send", "Spring"))
    assert "already sent; nothing changed" in again and "2024-06-01T12:00:00Z" in again
    recipients = ok(cli("campaigns", "recipients", "Spring"))
    assert recipients.splitlines() == ["id,Email", "c1,anna@example.com", "c2,bob@example.com"]
    used = cli("segments", "delete", "Winners")
    assert used.exit_code == 2 and "campaign Spring (sent)" in used.stderr
