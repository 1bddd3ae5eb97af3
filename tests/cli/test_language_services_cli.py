"""`segmentql complete`, `diagnose`, `explain` and `segments diff`."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest
from pymongo import AsyncMongoClient

CONTACTS = [
    {"id": "c1", "fields": {"Email": "anna@example.com", "City": "Krakow", "Age": 31},
     "lists": ["VIP"]},
    {"id": "c2", "fields": {"City": "Krakow", "Age": 45}},
    {"id": "c3", "fields": {"City": "Kraków", "Age": 22}},
    {"id": "c4", "fields": {"City": "Warsaw"}},
]
EVENTS = [
    {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-20T10:00:00Z",
     "attributes": {"campaign": "spring"}},
    {"id": "e2", "contact": "c1", "type": "MailClick", "time": "2024-04-01T10:00:00Z"},
]
NOW = "2024-06-01T00:00:00Z"


def jsonl(path, rows) -> str:
    path.write_text("\n".join(orjson.dumps(row).decode() for row in rows) + "\n")
    return str(path)


@pytest.fixture
def loaded(segmentql, tmp_path):
    for name, kind in [("City", "text"), ("Age", "number")]:
        assert segmentql("fields", "add", name, kind).exit_code == 0
    assert segmentql("import", "contacts", jsonl(tmp_path / "c.jsonl", CONTACTS)).exit_code == 0
    assert segmentql("import", "events", jsonl(tmp_path / "e.jsonl", EVENTS)).exit_code == 0
    return segmentql


@pytest.fixture
def fields_file(tmp_path) -> str:
    path = tmp_path / "fields.json"
    path.write_text('{"City": "text", "Age": "number"}')
    return str(path)


def ok(result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


# --- complete -----------------------------------------------------------------------------------

def test_complete_offline(offline, fields_file) -> None:
    lines = ok(offline("complete", "City eq", "7", "--fields", fields_file)).splitlines()
    assert lines == ["equals\toperator\ttext operator", "is not equal to\toperator\ttext operator"]
    middle = ok(offline("complete", "Age between 3 and 5", "13", "--fields", fields_file))
    assert middle.splitlines() == ["and\tkeyword\tboth conditions"]
    as_json = orjson.loads(ok(offline("complete", "event Mai", "9", "--fields", fields_file,
                                      "--json")))
    assert [(s["label"], s["kind"], s["insert_text"], s["start"], s["end"]) for s in as_json] == [
        ("MailClick", "event", "MailClick", 6, 9), ("MailOpen", "event", "MailOpen", 6, 9)]
    bad = offline("complete", "Age", "9", "--fields", fields_file)
    assert bad.exit_code == 2 and "from 0 to 3" in bad.stderr


def test_complete_with_the_store(loaded) -> None:
    values = ok(loaded("complete", 'City equals "Kr', "15")).splitlines()
    assert values == ['"Krakow"\tvalue\ta value of City', '"Kraków"\tvalue\ta value of City']
    lists = ok(loaded("complete", 'in list "V', "10")).splitlines()
    assert lists == ['"VIP"\tlist\tlist']
    events = ok(loaded("complete", "event ", "6")).splitlines()
    assert "MailClick\tevent\tsystem event" in events
    fields = ok(loaded("complete", "", "0")).splitlines()
    assert "Age\tfield\tnumber" in fields and "City\tfield\ttext" in fields


# --- diagnose -------------------------------------------------------------------------------------

def test_diagnose_offline(offline, fields_file) -> None:
    result = offline("diagnose", "City Krakow and Age >> 5", "--fields", fields_file)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith("error: line 1, column 6: expected an operator")
    assert lines[1:3] == ["  City Krakow and Age >> 5", "       ^^^^^^"]
    assert lines[3].startswith("error: line 1, column 22: expected a value")
    assert "error: 2 errors, 0 warnings" in result.stderr
    warned = offline("diagnose", "Age > 50 and Age < 20", "--fields", fields_file)
    assert warned.exit_code == 0
    assert warned.stdout.startswith("warning: line 1, column 1: Age > 50 and Age < 20 can never")
    assert ok(offline("diagnose", "Age > 5", "--fields", fields_file)) == "ok\n"
    as_json = orjson.loads(ok(offline("diagnose", "Age > 3 and Age > 3", "--fields", fields_file,
                                      "--json")))
    assert [(d["severity"], d["code"], d["start"], d["end"]) for d in as_json] == [
        ("warning", "duplicate", 12, 19)]


def test_diagnose_reports_a_type_error_beside_a_syntax_error(offline, fields_file) -> None:
    result = offline("diagnose", 'Citty equals "x" and Age >> 5', "--fields", fields_file)
    assert result.exit_code == 2
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors[0] == "error: line 1, column 1: unknown field Citty (did you mean City?)"
    assert errors[1].startswith("error: line 1, column 27: expected a value")
    assert "error: 2 errors, 0 warnings" in result.stderr


def test_diagnose_with_the_store(loaded) -> None:
    result = loaded("diagnose", 'Citty equals "x" and in list "VIPS" and event MailClik occurred')
    assert result.exit_code == 2
    out = result.stdout
    assert "unknown field Citty (did you mean City?)" in out
    assert "no list named VIPS (did you mean VIP?)" in out
    assert "unknown event MailClik (did you mean MailClick?)" in out
    assert "error: 3 errors, 0 warnings" in result.stderr


# --- explain ---------------------------------------------------------------------------------------

def test_explain_an_expression(loaded) -> None:
    result = ok(loaded("explain", 'City equals "krakow" and event MailClick occurred in last 30 days',
                       "c1", "--expression", "--now", NOW))
    lines = result.splitlines()
    assert lines[0] == "contact c1 at 2024-06-01T00:00:00Z: a member of the expression"
    assert lines[1].startswith('✓ City equals "krakow" and event MailClick')
    assert lines[2] == '  ✓ City equals "krakow"    [City is "Krakow"]'
    assert lines[3] == ("  ✓ event MailClick occurred in last 30 days    [2 MailClick events, 1 in "
                        "[2024-05-02T00:00:00Z, 2024-06-01T00:00:00Z], 1 counted]")
    other = ok(loaded("explain", "Age > 40 or not in list \"VIP\"", "c4", "--expression"))
    assert other.splitlines()[1:] == ['✓ Age > 40 or not in list "VIP"',
                                      "  ✗ Age > 40    [Age has no value]",
                                      '  ✓ not in list "VIP"',
                                      '    ✗ in list "VIP"    [not in the list]']


def test_explain_a_saved_segment(loaded) -> None:
    ok(loaded("segments", "create", "Adults", "Age >= 30", "--maximum", "1", "--range", "0:100"))
    result = ok(loaded("explain", "adults", "c3", "--now", NOW))
    assert result.splitlines()[0] == ("contact c3 at 2024-06-01T00:00:00Z: not a member of "
                                      "segment Adults (version 1)")
    assert "✗ Age >= 30    [Age is 22]" in result
    assert "maximum 1: not reached" in result
    member = loaded("explain", "Adults", "c1", "--json")
    as_json = orjson.loads(ok(member))
    assert as_json["tree"]["held"] is True and as_json["maximum"] == 1
    missing = loaded("explain", "Adults", "c99")
    assert missing.exit_code == 2 and "no contact c99" in missing.stderr
    no_segment = loaded("explain", "Nobody", "c1")
    assert no_segment.exit_code == 2 and "no segment named 'Nobody'" in no_segment.stderr
    bad = loaded("explain", "Age >", "c1", "--expression")
    assert bad.exit_code == 2 and "line 1, column" in bad.stderr
    unknown = loaded("explain", "Agge > 1", "c1", "--expression")
    assert unknown.exit_code == 2
    assert "line 1, column 1: unknown field Agge (did you mean Age?)" in unknown.stderr
    assert "  Agge > 1\n  ^^^^^^^^" in unknown.stderr


# --- segments diff -------------------------------------------------------------------------------

async def _update(uri: str, name: str, expression: str) -> None:
    from store.segments import find_segment, update_segment

    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client[os.environ["SEGMENTQL_MONGO_DB"]]
        segment = await find_segment(db, "main", name)
        await update_segment(db, segment.id, expression=expression, actor="test:alice")
    finally:
        await client.close()


def test_segments_diff(loaded, store_server) -> None:
    ok(loaded("segments", "create", "S", 'City equals "krakow"'))  # c1 c2
    asyncio.run(_update(store_server, "S", "Age > 40 or Age < 25"))  # c2 c3
    versions = ok(loaded("segments", "diff", "S", "--from-version", "1", "--to-version", "2",
                         "--now", NOW)).splitlines()
    assert versions == ["segment S: version 1 → version 2 at 2024-06-01T00:00:00Z",
                        "entered: 1  c3", "left:    1  c1", "stayed:  1  c2", "members: 2 → 2"]
    current = ok(loaded("segments", "diff", "S", "--from-version", "1", "--now", NOW))
    assert current.splitlines()[1:] == versions[1:]  # --to-version: the current one
    ok(loaded("segments", "create", "T", "event MailClick occurred in last 30 days"))
    times = ok(loaded("segments", "diff", "T", "--now", "2024-05-25T00:00:00Z",
                      "--to-now", "2024-06-25T00:00:00Z")).splitlines()
    assert times == ["segment T: 2024-05-25T00:00:00Z → 2024-06-25T00:00:00Z (version 1)",
                     "entered: 0", "left:    1  c1", "stayed:  0", "members: 1 → 0"]
    as_json = orjson.loads(ok(loaded("segments", "diff", "T", "--now", "2024-05-25T00:00:00Z",
                                     "--to-now", "2024-06-25T00:00:00Z", "--json")))
    assert (as_json["left"], as_json["left_sample"]) == (1, ["c1"])
    both = loaded("segments", "diff", "T", "--from-version", "1", "--to-now", NOW, "--now", NOW)
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = loaded("segments", "diff", "T")
    assert neither.exit_code == 2 and "--from-version" in neither.stderr
    missing = loaded("segments", "diff", "T", "--from-version", "7")
    assert missing.exit_code == 2 and "has no version 7" in missing.stderr
