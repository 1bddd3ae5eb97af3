"""Completion, diagnostics, explain and segment diff over GraphQL, on a real server."""

from __future__ import annotations

import pytest

from tests.graph.seed import NOW, create_segment, load

COMPLETE = """query($e: String!, $o: Int!, $d: String) {
  completeExpression(expression: $e, offset: $o, database: $d) {
    suggestions { label kind detail insertText start end } errors { message code } } }"""

DIAGNOSE = """query($e: String!, $d: String) { diagnoseExpression(expression: $e, database: $d) {
  diagnostics { severity message suggestion code line column endLine endColumn start end }
  errors { message code } } }"""

EXPLAIN = """query($c: ID!, $s: ID, $e: String, $j: JSON, $d: String, $now: DateTime) {
  explainContact(contactId: $c, segment: $s, expression: $e, json: $j, database: $d, now: $now) {
    explanation { database contactId now member held bucket rangeFrom rangeTo inRange maximum
      withinMaximum segmentVersion segment { id name }
      nodes { index parent depth kind text held field value valueText eventType events
              inWindow matching windowStart windowStartInclusive windowEnd windowEndInclusive
              name line column endLine endColumn } }
    errors { message code line column } } }"""

DIFF = """query($id: ID!, $fv: Int, $tv: Int, $now: DateTime, $fn: DateTime, $tn: DateTime,
               $v: Int, $sample: Int) {
  segmentDiff(id: $id, fromVersion: $fv, toVersion: $tv, now: $now, fromNow: $fn, toNow: $tn,
              version: $v, sample: $sample) {
    diff { fromVersion toVersion fromNow toNow entered left stayed before after
           enteredSample leftSample stayedSample }
    errors { message code } } }"""

MEMBERS = """query($id: ID!, $now: DateTime) { segment(id: $id) {
  members(now: $now, first: 200) { edges { node { id } } } } }"""


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


@pytest.fixture(scope="module")
def outsider(seeded) -> str:
    """A viewer key that sees only another profile database."""
    made = seeded.run('mutation { createDatabase(name: "brand_b") { ok errors { message } } }')
    assert made["createDatabase"]["ok"], made
    return seeded.new_key("viewer", ["brand_b"])


def complete(graph, text: str, offset: int | None = None, **more) -> dict:
    offset = len(text) if offset is None else offset
    return graph.run(COMPLETE, {"e": text, "o": offset, **more})["completeExpression"]


def labels(result: dict) -> list[str]:
    assert result["errors"] == [], result
    return [item["label"] for item in result["suggestions"]]


# --- completion ----------------------------------------------------------------------------------

def test_completion_of_half_typed_expressions(seeded) -> None:
    operators = complete(seeded, "City eq")
    assert labels(operators)[0] == "equals"
    assert {item["kind"] for item in operators["suggestions"]} == {"OPERATOR"}
    first = operators["suggestions"][0]
    assert (first["start"], first["end"], first["insertText"]) == (5, 7, "equals")

    events = complete(seeded, "event Mai")
    assert {"MailClick", "MailOpen"} <= set(labels(events))
    assert "product_purchased" not in labels(events)
    assert all(item["kind"] == "EVENT" for item in events["suggestions"])

    after_number = labels(complete(seeded, "Age between 3"))
    assert after_number == ["and"]

    lists = complete(seeded, 'in list "V')
    assert labels(lists) == ['"VIP"']
    assert lists["suggestions"][0]["kind"] == "LIST"
    assert lists["suggestions"][0]["start"] == 8  # the unterminated string, from its quote

    fields = complete(seeded, "Ag")
    assert fields["suggestions"][0]["label"] == "Age"
    assert fields["suggestions"][0]["detail"] == "number"


def test_completion_offers_frequent_values_and_segment_names(seeded) -> None:
    values = complete(seeded, 'City equals "')
    # Krakow and krakow are one value, shown in its most frequent spelling (a tie: by text)
    assert labels(values)[0] in ('"Krakow"', '"krakow"')
    assert {'"Warsaw"', '"Gdansk"'} <= set(labels(values))
    assert all(item["kind"] == "VALUE" for item in values["suggestions"])
    assert labels(complete(seeded, 'City equals "war')) == ['"Warsaw"']

    create_segment(seeded, "Completion target", "Age > 1")
    named = complete(seeded, 'in segment "Completion')
    assert labels(named) == ['"Completion target"']


def test_completion_in_the_middle_of_the_text(seeded) -> None:
    text = "Age > 3 and Cit"
    mid = complete(seeded, text, offset=2)  # the cursor in "Age": the word is replaced whole
    assert mid["suggestions"][0]["label"] == "Age"
    assert (mid["suggestions"][0]["start"], mid["suggestions"][0]["end"]) == (0, 3)
    assert labels(complete(seeded, text))[0] == "City"


def test_completion_refusals(seeded, outsider) -> None:
    beyond = complete(seeded, "Age", offset=4)
    assert beyond["suggestions"] == [] and beyond["errors"][0]["code"] == "INPUT"
    assert "from 0 to 3" in beyond["errors"][0]["message"]
    unknown = complete(seeded, "Age", d="nowhere")
    assert unknown["suggestions"] == [] and unknown["errors"][0]["code"] == "INPUT"
    assert "no profile database nowhere" in unknown["errors"][0]["message"]
    hidden = seeded.run(COMPLETE, {"e": "Age", "o": 3}, key=outsider)["completeExpression"]
    assert hidden["suggestions"] == [] and hidden["errors"][0]["code"] == "FORBIDDEN"


# --- diagnostics ---------------------------------------------------------------------------------

def diagnose(graph, text: str, **more) -> list[dict]:
    result = graph.run(DIAGNOSE, {"e": text, **more})["diagnoseExpression"]
    assert result["errors"] == [], result
    return result["diagnostics"]


def test_every_syntax_error_with_its_range(seeded) -> None:
    found = diagnose(seeded, 'City "Krakow" and Age >> 5')
    assert [item["severity"] for item in found] == ["ERROR", "ERROR"]
    assert [item["code"] for item in found] == ["syntax", "syntax"]
    assert (found[0]["line"], found[0]["column"]) == (1, 6)
    assert (found[0]["start"], found[0]["end"]) == (5, 13)
    assert found[1]["column"] == 24 and found[1]["start"] == 23


def test_type_errors_and_warnings(seeded) -> None:
    found = diagnose(seeded, 'Citty equals "x" and event MailClik occurred and in list "VIPS"')
    assert [item["code"] for item in found] == ["type", "type", "type"]
    assert "City" in found[0]["suggestion"]
    assert "MailClick" in found[1]["suggestion"]
    assert "VIP" in found[2]["suggestion"]

    never = diagnose(seeded, "Age > 50 and Age < 20")
    assert [(item["severity"], item["code"]) for item in never] == [("WARNING", "never")]
    assert (never[0]["start"], never[0]["end"]) == (0, 21)
    always = diagnose(seeded, 'in list "VIP" or not in list "VIP"')
    assert [item["code"] for item in always] == ["always"]
    assert diagnose(seeded, "Age > 20 and City equals \"Krakow\"") == []


def test_multi_line_ranges(seeded) -> None:
    found = diagnose(seeded, 'Age > 3\nand City equals\n  and Age <')
    assert [(item["line"], item["column"], item["severity"]) for item in found] == \
        [(3, 3, "ERROR"), (3, 12, "ERROR")], found


def test_diagnostics_refused_for_an_unknown_database(seeded) -> None:
    result = seeded.run(DIAGNOSE, {"e": "Age > 3", "d": "nowhere"})["diagnoseExpression"]
    assert result["diagnostics"] == [] and result["errors"][0]["code"] == "INPUT"


# --- explain -------------------------------------------------------------------------------------

def explain(graph, contact: str, **arguments) -> dict:
    return graph.run(EXPLAIN, {"c": contact, "now": NOW, **arguments})["explainContact"]


def members(graph, segment_id: str, now: str = NOW) -> set[str]:
    data = graph.run(MEMBERS, {"id": segment_id, "now": now})
    return {edge["node"]["id"] for edge in data["segment"]["members"]["edges"]}


def test_explain_a_segment_agrees_with_its_members(seeded) -> None:
    segment = create_segment(seeded, "Krakow clickers",
                             'City equals "Krakow" and event MailClick occurred in last 30 days')
    expected = members(seeded, segment["id"])
    assert expected == {"c1"}
    for contact in ("c1", "c2", "c3", "c4", "c5"):
        result = explain(seeded, contact, s=segment["id"])
        assert result["errors"] == [], result
        explanation = result["explanation"]
        assert explanation["member"] is (contact in expected), contact
        assert explanation["segment"] == {"id": segment["id"], "name": "Krakow clickers"}
        assert explanation["segmentVersion"] == 1

    out = explain(seeded, "c3", s=segment["id"])["explanation"]
    root, city, click = out["nodes"]
    assert (root["kind"], root["held"], root["parent"]) == ("AND", False, None)
    assert (city["kind"], city["held"], city["value"], city["valueText"]) == \
        ("FIELD", True, "krakow", '"krakow"')
    assert (click["kind"], click["held"], click["events"], click["matching"]) == \
        ("EVENT", False, 0, 0)
    assert click["parent"] == 0 and click["depth"] == 1
    assert click["windowEnd"] == NOW and click["windowStart"] == "2024-05-02T00:00:00Z"
    assert click["line"] is None  # a saved segment's definition is its JSON form

    clicked = explain(seeded, "c1", s=segment["id"])["explanation"]["nodes"][2]
    assert (clicked["held"], clicked["events"], clicked["inWindow"], clicked["matching"]) == \
        (True, 2, 2, 2)


def test_explain_an_expression_with_positions(seeded) -> None:
    text = 'Age > 40 or\n  in list "VIP"'
    result = explain(seeded, "c2", e=text)
    explanation = result["explanation"]
    assert result["errors"] == [] and explanation["member"] is True
    assert explanation["segment"] is None and explanation["segmentVersion"] is None
    root, age, vip = explanation["nodes"]
    assert root["kind"] == "OR" and root["held"] is True
    assert (age["held"], age["value"], age["line"], age["column"]) == (True, 45, 1, 1)
    assert (vip["kind"], vip["held"], vip["name"]) == ("LIST", False, "VIP")
    assert (vip["line"], vip["column"], vip["endColumn"]) == (2, 3, 16)

    as_json = explain(seeded, "c4", j={"version": 1, "condition": {
        "field": "Age", "op": "gt", "value": 50}})
    assert as_json["errors"] == [], as_json
    assert as_json["explanation"]["held"] is True


def test_explain_range_and_maximum(seeded) -> None:
    segment = create_segment(seeded, "First adult", "Age > 18", maximum=1)
    [first] = members(seeded, segment["id"])
    for contact in ("c1", "c2", "c3", "c4", "c5"):
        explanation = explain(seeded, contact, s=segment["id"])["explanation"]
        assert explanation["held"] is True and explanation["maximum"] == 1
        assert explanation["withinMaximum"] is (contact == first)
        assert explanation["member"] is (contact == first)


def test_explain_refusals(seeded, outsider) -> None:
    broken = explain(seeded, "c1", e="Age >> 5")
    assert broken["explanation"] is None
    assert broken["errors"][0]["code"] == "SYNTAX" and broken["errors"][0]["column"] == 6
    unknown_field = explain(seeded, "c1", e='Citty equals "x"')
    assert unknown_field["errors"][0]["code"] == "TYPE"
    ghost = explain(seeded, "ghost", e="Age > 5")
    assert ghost["errors"][0]["code"] == "NOT_FOUND" and "ghost" in ghost["errors"][0]["message"]
    segment = create_segment(seeded, "Explained twice", "Age > 5")
    both = explain(seeded, "c1", s=segment["id"], e="Age > 5")
    assert both["errors"][0]["code"] == "INPUT"
    nothing = explain(seeded, "c1")
    assert nothing["errors"][0]["code"] == "INPUT"
    missing = explain(seeded, "c1", s="000000000000000000000000")
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    hidden = seeded.run(EXPLAIN, {"c": "c1", "s": segment["id"]}, key=outsider)["explainContact"]
    assert hidden["explanation"] is None and hidden["errors"][0]["code"] == "NOT_FOUND"
    hidden = seeded.run(EXPLAIN, {"c": "c1", "e": "Age > 5"}, key=outsider)["explainContact"]
    assert hidden["errors"][0]["code"] == "FORBIDDEN"


# --- segment diff --------------------------------------------------------------------------------

UPDATE = """mutation($id: ID!, $e: String!) { updateSegment(id: $id, input: {expression: $e}) {
  segment { version } errors { message } } }"""


def diff(graph, segment_id: str, **arguments) -> dict:
    return graph.run(DIFF, {"id": segment_id, **arguments})["segmentDiff"]


def test_diff_between_versions(seeded) -> None:
    segment = create_segment(seeded, "Adults to diff", "Age > 20")
    updated = seeded.run(UPDATE, {"id": segment["id"], "e": "Age > 30 or City equals \"krakow\""})
    assert updated["updateSegment"]["segment"]["version"] == 2
    result = diff(seeded, segment["id"], fv=1, now=NOW)  # to the current version
    assert result["errors"] == [], result
    found = result["diff"]
    # version 1: c1 31, c2 45, c3 22, c4 60, c5 28; version 2: c1, c2, c3 (Krakow), c4
    assert (found["entered"], found["left"], found["stayed"]) == (0, 1, 4)
    assert found["leftSample"] == ["c5"]
    assert sorted(found["stayedSample"]) == ["c1", "c2", "c3", "c4"]
    assert (found["fromVersion"], found["toVersion"], found["before"], found["after"]) == \
        (1, 2, 5, 4)
    back = diff(seeded, segment["id"], fv=2, tv=1, now=NOW, sample=1)["diff"]
    assert (back["entered"], back["left"], back["stayed"]) == (1, 0, 4)
    assert back["enteredSample"] == ["c5"] and len(back["stayedSample"]) == 1


def test_diff_between_times(seeded) -> None:
    segment = create_segment(seeded, "Recent clickers", "event MailClick occurred in last 7 days")
    result = diff(seeded, segment["id"], fn="2024-05-26T00:00:00Z", tn="2024-06-10T00:00:00Z")
    assert result["errors"] == [], result
    found = result["diff"]
    assert (found["entered"], found["left"], found["stayed"], found["leftSample"]) == \
        (0, 1, 0, ["c1"])
    assert found["fromNow"].startswith("2024-05-26") and found["toNow"].startswith("2024-06-10")
    assert found["fromVersion"] == found["toVersion"] == 1
    assert members(seeded, segment["id"], "2024-05-26T00:00:00Z") == {"c1"}
    assert members(seeded, segment["id"], "2024-06-10T00:00:00Z") == set()


def test_diff_refusals(seeded) -> None:
    segment = create_segment(seeded, "Diff refusals", "Age > 20")
    both = diff(seeded, segment["id"], fv=1, fn=NOW, tn=NOW)
    assert both["diff"] is None and both["errors"][0]["code"] == "INPUT"
    assert diff(seeded, segment["id"])["errors"][0]["code"] == "INPUT"
    assert diff(seeded, segment["id"], fn=NOW)["errors"][0]["code"] == "INPUT"
    assert diff(seeded, segment["id"], fv=1, sample=1000)["errors"][0]["code"] == "INPUT"
    assert diff(seeded, segment["id"], fv=7)["errors"][0]["code"] == "NOT_FOUND"
    assert diff(seeded, "000000000000000000000000", fv=1)["errors"][0]["code"] == "NOT_FOUND"
