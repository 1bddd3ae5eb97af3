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
    assert listed[1].endswith("2 members  [geo, pl]")  # the maintained count
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


def test_list_shows_counts(cli) -> None:
    ok(cli("segments", "create", "Krakow", 'City starts with "krakow"', "--tag", "geo"))
    ok(cli("segments", "create", "Warsaw", 'City equals "warsaw"'))
    listed = ok(cli("segments", "list")).splitlines()
    assert [line.split("  ")[2:4] for line in listed] == [["Krakow", "2 members"],
                                                          ["Warsaw", "1 member"]]
    assert listed[0].endswith("[geo]")
    last = ok(cli("segments", "list", "--no-count")).splitlines()
    assert last[0].split("  ")[3].startswith("2 members at ")
    ok(cli("segments", "create", "Nobody yet", 'City equals "Paris"'))
    ok(cli("segments", "delete", "Nobody yet"))
    assert ok(cli("segments", "list", "--bin")).split("  ")[2:4] == ["Nobody yet",
                                                                      "never counted\n"]


def test_update_makes_a_version_and_says_what_changed(cli) -> None:
    ok(cli("segments", "create", "Krakow", 'City starts with "krakow"', "--tag", "geo"))
    updated = ok(cli("segments", "update", "krakow", "--expression", 'City equals "warsaw"',
                     "--tag", "pl", "--tag", "capital", "--maximum", "5", "--note", "moved"))
    assert updated.splitlines() == [
        "updated segment Krakow to version 2 (changed: tags, expression, maximum)",
        '  expression: City equals "warsaw"',
        "  range: 0:100 %, maximum: 5",
        "  tags: pl, capital"]
    renamed = ok(cli("segments", "update", "Krakow", "--name", "Capital", "--no-tags",
                     "--no-maximum", "--range", "0:50"))
    assert renamed.splitlines()[0] == ("updated segment Capital to version 3 (changed: name, "
                                       "tags, range, maximum)")
    same = ok(cli("segments", "update", "Capital", "--range", "0:50"))
    assert same == "segment Capital unchanged (version 3): it has these values already\n"
    history = ok(cli("segments", "history", "Capital")).splitlines()
    assert [line.split("  ")[0] for line in history[::2]] == ["v1", "v2", "v3"]
    assert "(moved)" in history[2]
    stale = cli("segments", "update", "Capital", "--description", "x",
                "--expected-version", "2")
    assert stale.exit_code == 2 and "version" in stale.stderr
    bad = cli("segments", "update", "Capital", "--expression", "City >> 3")
    assert bad.exit_code == 2 and "line 1, column" in bad.stderr
    assert cli("segments", "update", "Capital").exit_code == 2  # nothing to change
    assert cli("segments", "update", "Nobody", "--name", "X").exit_code == 2
    assert "version:       3" in ok(cli("segments", "show", "Capital", "--no-count"))


def test_clone(cli) -> None:
    ok(cli("segments", "create", "Krakow", 'City starts with "krakow"', "--tag", "geo"))
    cloned = ok(cli("segments", "clone", "Krakow", "Krakow copy"))
    assert cloned.startswith("cloned segment Krakow v1 as Krakow copy (id ")
    assert cloned.endswith(", version 1)\n")
    shown = ok(cli("segments", "show", "krakow copy"))
    assert 'expression:    City starts with "krakow"' in shown and "tags:          geo" in shown
    taken = cli("segments", "clone", "Krakow", "KRAKOW")
    assert taken.exit_code == 2 and "already exists" in taken.stderr


def test_lists_remove_and_campaigns_list(cli) -> None:
    ok(cli("lists", "create", "Winners"))
    ok(cli("lists", "add", "Winners", "c1", "c2"))
    removed = cli("lists", "remove", "winners", "c2", "c3", "ghost")
    assert removed.exit_code == 0
    assert removed.stdout == "removed 1, not in the list 1, unknown 1\n"
    assert "no contact ghost" in removed.stderr
    assert cli("lists", "remove", "Losers", "c1").exit_code == 2
    ok(cli("segments", "create", "Winners", 'in list "Winners"'))
    assert ok(cli("campaigns", "list")) == ""
    ok(cli("campaigns", "create", "Spring", "--channel", "email", "--segment", "Winners"))
    ok(cli("campaigns", "create", "Autumn", "--channel", "sms", "--segment", "Winners"))
    ok(cli("campaigns", "send", "Spring", "--now", "2024-06-01T12:00:00Z"))
    listed = [line.split("  ")[1:] for line in ok(cli("campaigns", "list")).splitlines()]
    assert listed == [["Autumn", "sms", "draft", "segment Winners"],
                      ["Spring", "email", "sent", "1 recipient at 2024-06-01T12:00:00Z",
                       "segment Winners"]]
