"""`fields add`, `import contacts|events`, `check`, `compile` and `eval` on a real store."""

from __future__ import annotations

import orjson
import pytest

CONTACTS = [
    {"id": "c1", "fields": {"Email": "anna@example.com", "City": "Krakow", "Age": 31,
                            "Signup": "2024-05-01T10:00:00Z", "Newsletter": True}, "lists": ["VIP"]},
    {"id": "c2", "fields": {"City": "KRAKÓW", "Age": "thirty"}},
    {"id": "c3", "fields": {"City": "krakow", "Age": 22}},
    {"id": "c4", "fields": {"City": "Warsaw", "Age": 40}},
]
EVENTS = [
    {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-20T10:00:00Z",
     "attributes": {"campaign": "spring"}},
    {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-20T10:00:00Z"},
    {"contact": "c3", "type": "MailClick", "time": "2024-01-20T10:00:00Z"},
    {"contact": "c9", "type": "MailClick", "time": "2024-01-20T10:00:00Z"},
]
NOW = "2024-06-01T00:00:00Z"


def jsonl(path, rows):
    path.write_text("\n".join(orjson.dumps(row).decode() for row in rows) + "\nnot json\n")
    return str(path)


@pytest.fixture
def loaded(segmentql, tmp_path):
    for name, kind in [("City", "text"), ("Age", "number"), ("Signup", "date"),
                       ("Newsletter", "boolean")]:
        assert segmentql("fields", "add", name, kind).exit_code == 0
    contacts = segmentql("import", "contacts", jsonl(tmp_path / "c.jsonl", CONTACTS))
    assert contacts.exit_code == 2  # rows were rejected: an input error, summary still printed
    assert contacts.stdout == "stored 3, duplicates 0, rejected 2\n"
    assert "line 2 (id c2)" in contacts.stderr and "'thirty' is not a number" in contacts.stderr
    assert "line 5" in contacts.stderr
    events = segmentql("import", "events", jsonl(tmp_path / "e.jsonl", EVENTS))
    assert events.exit_code == 2
    assert events.stdout == "stored 2, duplicates 1, rejected 2\n"
    assert "no contact c9 in database main" in events.stderr
    return segmentql


def test_fields_add_refuses_a_redefinition(loaded):
    result = loaded("fields", "add", "age", "text")
    assert result.exit_code == 2 and "Age" in result.stderr
    assert loaded("fields", "add", "Score", "colour").exit_code == 2


def test_eval_counts_then_lists_ids_in_the_maximums_order(loaded):
    result = loaded("eval", 'City equals "krakow"', "--ids", "--now", NOW)
    assert result.exit_code == 0
    count, *ids = result.stdout.split()
    assert count == "2" and sorted(ids) == ["c1", "c3"]
    windowed = loaded("eval", "event MailClick occurred in last 30 days", "--now", NOW, "--ids")
    assert windowed.stdout.split() == ["1", "c1"]
    limited = loaded("eval", "City has value", "--maximum", "1", "--ids")
    assert limited.stdout.split()[0] == "1" and limited.stdout.split()[1] in ids + ["c4"]


def test_eval_range_slices_do_not_overlap(loaded):
    low = loaded("eval", "City has value", "--range", "0:50", "--ids").stdout.split()[1:]
    high = loaded("eval", "City has value", "--range", "50:100", "--ids").stdout.split()[1:]
    assert not set(low) & set(high) and sorted(low + high) == ["c1", "c3", "c4"]


def test_eval_input_errors_exit_2(loaded):
    assert loaded("eval", 'Citty equals "x"').exit_code == 2
    assert loaded("eval", "Age > 1", "--now", "yesterday").exit_code == 2
    assert loaded("eval", "Age > 1", "--range", "50:20").exit_code == 2
    result = loaded("eval", 'in segment "nowhere"')
    assert result.exit_code == 2 and "no segment named 'nowhere'" in result.stderr


def test_eval_estimate_prints_the_count_first_then_the_interval_in_words(loaded):
    result = loaded("eval", 'City equals "krakow"', "--estimate", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == "2"  # three contacts: the sample is all of them, so it is exact
    assert second == "exactly 2 members: all 3 contacts in the range were evaluated"
    capped = loaded("eval", "City has value", "--estimate", "--maximum", "1")
    assert capped.stdout.splitlines()[0] == "1"
    assert loaded("eval", "Age > 1", "--estimate", "--ids").exit_code == 2
    wrong = loaded("eval", 'Citty equals "x"', "--estimate")
    assert wrong.exit_code == 2 and "did you mean City" in wrong.stderr


def test_check_reads_the_store_schema(loaded):
    assert loaded("check", "Newsletter is true").stdout == "ok\n"
    result = loaded("check", "Newsletter equals 3")
    assert result.exit_code == 2 and "Newsletter is a boolean field" in result.stderr


def test_compile_prints_the_pipeline_as_extended_json(loaded):
    result = loaded("compile", "Signup after 2024-05-01", "--now", NOW)
    assert result.exit_code == 0
    pipeline = orjson.loads(result.stdout)
    assert pipeline[0]["$match"]["fields.Signup"] == {"$gte": {"$date": "2024-05-02T00:00:00Z"}}


def test_import_accounts_for_every_line_of_a_broken_file(segmentql, tmp_path):
    """An unbalanced quote (CSV), a lone surrogate and bytes that are no UTF-8: each costs
    its own line, reported by number; the rows around them are stored; exit 2, never 1."""
    assert segmentql("fields", "add", "City", "text").exit_code == 0
    csv = tmp_path / "c.csv"
    csv.write_bytes(b'id,City\nq1,"Oslo\nq2,Bergen\nq3,Tromso\xff\nq4,Bod\xc3\xb8\n')
    contacts = segmentql("import", "contacts", str(csv))
    assert contacts.exit_code == 2, contacts.output
    assert contacts.stdout == "stored 2, duplicates 0, rejected 2\n"
    assert "line 2: a quoted cell opened on this line is never closed" in contacts.stderr
    assert "line 4: not UTF-8 text" in contacts.stderr
    events = tmp_path / "e.jsonl"
    events.write_bytes(b'{"id": "e1", "contact": "q2", "type": "V", "time": "2024-05-01T10:00:00Z"}\n'
                       b'{"id": "e\\ud800", "contact": "q2", "type": "V", "time": "2024-05-01T10:00:00Z"}\n'
                       b'{"id": "e1", "contact": "q2", "type": "V", "time": "2024-05-01T10:00:00Z"}\n')
    tracked = segmentql("import", "events", str(events))
    assert tracked.exit_code == 2, tracked.output
    assert tracked.stdout == "stored 1, duplicates 1, rejected 1\n"
    assert "line 2: a lone UTF-16 surrogate escape" in tracked.stderr
