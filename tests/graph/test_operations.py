"""Every operation docs/interfaces.md lists, over HTTP with an API key, with expected failures
coming back as data (`errors` with message, line and column)."""

from __future__ import annotations

import pytest

from tests.graph.seed import CREATE_SEGMENT, DEFINE_FIELD, NOW, TRACK, UPSERT, create_segment, load


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


def test_fields_and_define_field(seeded) -> None:
    data = seeded.run("{ fields { name type } }")
    assert {"name": "City", "type": "TEXT"} in data["fields"]
    assert {"name": "CreateTime", "type": "DATE"} in data["fields"]
    again = seeded.run(DEFINE_FIELD, {"name": "Age", "type": "NUMBER"})
    assert again["defineField"] == {"ok": True, "errors": []}
    clash = seeded.run(DEFINE_FIELD, {"name": "Age", "type": "TEXT"})["defineField"]
    assert clash["ok"] is False
    assert "already exists as number" in clash["errors"][0]["message"]
    bad = seeded.run(DEFINE_FIELD, {"name": "a.b", "type": "TEXT"})["defineField"]
    assert bad["ok"] is False and bad["errors"]


def test_contact(seeded) -> None:
    data = seeded.run('{ contact(id: "c1") { id fields lists } '
                      ' missing: contact(id: "nope") { id } }')
    assert data["contact"]["id"] == "c1"
    assert data["contact"]["fields"]["City"] == "Krakow"
    assert data["contact"]["fields"]["Signup"] == "2024-05-01T10:00:00Z"
    assert data["contact"]["lists"] == ["VIP"]
    assert data["missing"] is None


def test_upsert_contacts_reports_rows(seeded) -> None:
    rows = [{"id": "u1", "fields": {"Age": "not a number"}},
            {"id": "u2", "fields": {"City": "Lodz"}, "lists": ["New"]},
            {"id": "u3", "fields": {"Citty": "x"}}]
    result = seeded.run(UPSERT, {"contacts": rows})["upsertContacts"]
    assert result["stored"] == 1 and result["duplicates"] == 0 and result["errors"] == []
    assert [(row["index"], row["id"]) for row in result["rejected"]] == [(0, "u1"), (2, "u3")]
    assert "contact u1" in result["rejected"][0]["message"]
    assert "Age" in result["rejected"][0]["message"]
    assert "did you mean City" in result["rejected"][1]["message"]


def test_track_events_duplicates_and_rejections(seeded) -> None:
    events = [{"id": "t1", "contact": "c5", "type": "MailOpen", "time": "2024-05-31T10:00:00Z"},
              {"id": "t1", "contact": "c5", "type": "MailOpen", "time": "2024-05-31T10:00:00Z"},
              {"id": "t2", "contact": "ghost", "type": "MailOpen", "time": "2024-05-31"},
              {"contact": "c5", "type": "PageVisit", "time": "2024-05-31T11:00:00+02:00",
               "attributes": {"url": "/pricing"}}]
    result = seeded.run(TRACK, {"events": events})["trackEvents"]
    assert result["stored"] == 2 and result["duplicates"] == 1
    assert [(row["index"], row["id"]) for row in result["rejected"]] == [(2, "t2")]
    assert "no contact ghost" in result["rejected"][0]["message"]
    again = seeded.run(TRACK, {"events": events[:1]})["trackEvents"]
    assert (again["stored"], again["duplicates"]) == (0, 1)
    contact = seeded.run('{ contact(id: "c5") { events { id type time attributes } '
                         'eventSummary { type count } } }')["contact"]
    assert contact["events"][0] == {"id": "t1", "type": "MailOpen",
                                    "time": "2024-05-31T10:00:00Z", "attributes": {}}
    assert {"type": "MailOpen", "count": 1} in contact["eventSummary"]


def test_bad_timestamp_is_a_clear_request_error(seeded) -> None:
    from tests.graph.conftest import GraphError

    with pytest.raises(GraphError) as caught:
        seeded.run(TRACK, {"events": [{"contact": "c1", "type": "X", "time": "yesterday"}]})
    assert "is not an ISO 8601 date or timestamp" in str(caught.value)


PREVIEW = """query($input: PreviewInput!) { previewSegment(input: $input) {
  count contacts { id fields lists } errors { message line column } } }"""


def test_preview_segment(seeded) -> None:
    result = seeded.run(PREVIEW, {"input": {
        "expression": 'City equals "krakow" and event MailClick occurred in last 30 days',
        "now": NOW}})["previewSegment"]
    assert result["errors"] == [] and result["count"] == 1
    assert [contact["id"] for contact in result["contacts"]] == ["c1"]
    everyone = seeded.run(PREVIEW, {"input": {"expression": ""}})["previewSegment"]
    assert everyone["count"] >= 5
    by_json = seeded.run(PREVIEW, {"input": {"json": {"version": 1, "condition": {
        "field": "Age", "op": "gt", "value": 40}}}})["previewSegment"]
    text = seeded.run(PREVIEW, {"input": {"expression": "Age > 40"}})["previewSegment"]
    assert by_json["errors"] == [] and by_json["count"] == text["count"] == 2
    ranged = seeded.run(PREVIEW, {"input": {"expression": "", "rangeFrom": 0, "rangeTo": 100,
                                            "maximum": 2}})["previewSegment"]
    assert ranged["count"] == 2 and len(ranged["contacts"]) == 2


def test_preview_errors_are_data_with_position(seeded) -> None:
    result = seeded.run(PREVIEW, {"input": {"expression": 'City equals "x" and\n  Citty equals "y"'}})
    preview = result["previewSegment"]
    assert preview["count"] == 0 and preview["contacts"] == []
    assert preview["errors"][0]["line"] == 2 and preview["errors"][0]["column"] == 3
    assert "did you mean City" in preview["errors"][0]["message"]
    syntax = seeded.run(PREVIEW, {"input": {"expression": "City equals"}})["previewSegment"]
    assert syntax["errors"][0]["line"] == 1 and syntax["errors"][0]["column"] is not None
    bad_json = seeded.run(PREVIEW, {"input": {"json": {"version": 1, "condition": {"nope": 1}}}})
    assert "$.condition" in bad_json["previewSegment"]["errors"][0]["message"]


ESTIMATE = """query($input: PreviewInput!) { estimateSegment(input: $input) {
  estimate { count low high sampled exact } errors { message line column suggestion } } }"""


def test_estimate_segment_is_exact_on_a_small_database(seeded) -> None:
    found = seeded.run(ESTIMATE, {"input": {"expression": "Age > 40", "now": NOW}})
    estimate = found["estimateSegment"]
    preview = seeded.run(PREVIEW, {"input": {"expression": "Age > 40", "now": NOW}})
    assert estimate["errors"] == []
    assert estimate["estimate"]["exact"] is True
    count = preview["previewSegment"]["count"]
    assert estimate["estimate"]["count"] == estimate["estimate"]["low"] == \
        estimate["estimate"]["high"] == count == 2
    assert estimate["estimate"]["sampled"] >= 5
    capped = seeded.run(ESTIMATE, {"input": {"expression": "", "maximum": 1}})
    assert capped["estimateSegment"]["estimate"]["count"] == 1


def test_estimate_errors_are_data_with_position(seeded) -> None:
    result = seeded.run(ESTIMATE, {"input": {"expression": "Age > 1 and\n  Citty equals 'y'"}})
    estimate = result["estimateSegment"]
    assert estimate["estimate"] is None
    assert (estimate["errors"][0]["line"], estimate["errors"][0]["column"]) == (2, 3)
    assert "did you mean City" in estimate["errors"][0]["message"]
    reversed_range = seeded.run(ESTIMATE, {"input": {"expression": "", "rangeFrom": 60,
                                                     "rangeTo": 10}})["estimateSegment"]
    assert reversed_range["estimate"] is None and "range" in reversed_range["errors"][0]["message"]


def test_parse_segment(seeded) -> None:
    query = """query($e: String!) { parseSegment(expression: $e) {
        canonical json pipeline errors { message line column } } }"""
    result = seeded.run(query, {"e": "City EQUALS 'Krakow' AND Age > 30"})["parseSegment"]
    assert result["errors"] == []
    assert result["canonical"] == 'City equals "Krakow" and Age > 30'
    assert result["json"]["version"] == 1
    assert result["pipeline"][0]["$match"]["database"] == "main"
    broken = seeded.run(query, {"e": "City equals 'x' and\nAge >"})["parseSegment"]
    assert broken["canonical"] is None and broken["pipeline"] is None
    assert broken["errors"][0]["line"] == 2
    unknown = seeded.run(query, {"e": "Citty equals 'x'"})["parseSegment"]
    assert unknown["canonical"] == 'Citty equals "x"' and unknown["pipeline"] is None
    assert "did you mean City" in unknown["errors"][0]["message"]
    assert (unknown["errors"][0]["line"], unknown["errors"][0]["column"]) == (1, 1)


SEGMENT_FIELDS = """id name description tags database expression json rangeFrom rangeTo maximum
  version inBin count(now: "2024-06-01T00:00:00Z") dependents { kind id name status }
  history { version by changed expression }"""


def test_segment_lifecycle(seeded) -> None:
    krakow = create_segment(seeded, "Krakow", 'City equals "Krakow"', tags=["Geo"],
                            description="People in Krakow")
    assert (krakow["version"], krakow["database"], krakow["tags"]) == (1, "main", ["Geo"])
    taken = seeded.run(CREATE_SEGMENT, {"input": {"name": "KRAKOW", "expression": ""}})
    assert taken["createSegment"]["segment"] is None
    assert "already exists" in taken["createSegment"]["errors"][0]["message"]
    assert taken["createSegment"]["errors"][0]["code"] == "NAME_TAKEN"
    bad = seeded.run(CREATE_SEGMENT, {"input": {"name": "Bad", "expression": "Age >"}})
    assert bad["createSegment"]["errors"][0]["line"] == 1

    data = seeded.run(f'query($id: ID!) {{ segment(id: $id) {{ {SEGMENT_FIELDS} }} }}',
                      {"id": krakow["id"]})["segment"]
    assert data["count"] == 2 and data["inBin"] is False and data["maximum"] is None
    assert data["history"] == [{"version": 1, "by": "key:development", "changed": [
        "name", "description", "tags", "accessGroups", "expression", "rangeFrom",
        "rangeTo", "maximum"], "expression": 'City equals "Krakow"'}]

    update = """mutation($id: ID!, $input: SegmentInput!) { updateSegment(id: $id, input: $input) {
        segment { version expression maximum tags } errors { message line column } } }"""
    updated = seeded.run(update, {"id": krakow["id"], "input": {
        "expression": 'City equals "Krakow" and Age > 25', "maximum": 10}})["updateSegment"]
    assert updated["errors"] == []
    assert updated["segment"] == {"version": 2, "expression": 'City equals "Krakow" and Age > 25',
                                  "maximum": 10, "tags": ["Geo"]}
    wrong = seeded.run(update, {"id": krakow["id"], "input": {"expression": "Age between"}})
    assert wrong["updateSegment"]["segment"] is None
    assert wrong["updateSegment"]["errors"][0]["column"] is not None
    removed = seeded.run(update, {"id": krakow["id"], "input": {"maximum": None}})["updateSegment"]
    assert removed["segment"]["maximum"] is None and removed["segment"]["version"] == 3

    clone = seeded.run("""mutation($id: ID!) { cloneSegment(id: $id, name: "Krakow copy") {
        segment { id name version expression } errors { message } } }""", {"id": krakow["id"]})
    assert clone["cloneSegment"]["segment"]["version"] == 1
    assert clone["cloneSegment"]["segment"]["expression"] == 'City equals "Krakow" and Age > 25'

    user = create_segment(seeded, "Krakow VIPs", 'in segment "Krakow" and in list "VIP"')
    delete = """mutation($id: ID!) { deleteSegment(id: $id) { segment { inBin }
        errors { message code } } }"""
    refused = seeded.run(delete, {"id": krakow["id"]})["deleteSegment"]
    assert refused["segment"] is None and refused["errors"][0]["code"] == "IN_USE"
    assert "Krakow VIPs" in refused["errors"][0]["message"]
    dependents = seeded.run('query($id: ID!) { segment(id: $id) { dependents { kind name } } }',
                            {"id": krakow["id"]})["segment"]["dependents"]
    assert dependents == [{"kind": "segment", "name": "Krakow VIPs"}]

    assert seeded.run(delete, {"id": user["id"]})["deleteSegment"] == {
        "segment": {"inBin": True}, "errors": []}
    binned = seeded.run('{ segments(inBin: true) { edges { node { name inBin } } } }')
    assert {"name": "Krakow VIPs", "inBin": True} in [
        edge["node"] for edge in binned["segments"]["edges"]]
    restore = seeded.run("""mutation($id: ID!) { restoreSegment(id: $id) { segment { inBin name }
        errors { message } } }""", {"id": user["id"]})["restoreSegment"]
    assert restore == {"segment": {"inBin": False, "name": "Krakow VIPs"}, "errors": []}


def test_segments_connection_search_and_tag(seeded) -> None:
    create_segment(seeded, "Alpha buyers", "", tags=["Revenue"])
    create_segment(seeded, "Beta buyers", "Age > 30", tags=["revenue", "Geo"])
    query = """query($search: String, $tag: String) { segments(search: $search, tag: $tag) {
        edges { node { name tags } cursor } pageInfo { hasNextPage endCursor } } }"""
    found = seeded.run(query, {"search": "BUYERS"})["segments"]
    assert [edge["node"]["name"] for edge in found["edges"]] == ["Alpha buyers", "Beta buyers"]
    assert all(edge["cursor"] for edge in found["edges"])
    tagged = seeded.run(query, {"tag": "geo"})["segments"]
    assert "Beta buyers" in [edge["node"]["name"] for edge in tagged["edges"]]
    assert "Alpha buyers" not in [edge["node"]["name"] for edge in tagged["edges"]]


def test_campaigns(seeded) -> None:
    target = create_segment(seeded, "Newsletter", "Newsletter is true")
    create = """mutation($seg: ID!, $channel: Channel!, $name: String!) {
        createCampaign(name: $name, channel: $channel, segmentId: $seg) {
          campaign { id name channel segmentId status recipientCount segmentVersion }
          errors { message } } }"""
    made = seeded.run(create, {"seg": target["id"], "channel": "EMAIL", "name": "Spring"})
    campaign = made["createCampaign"]["campaign"]
    assert campaign["status"] == "DRAFT" and campaign["recipientCount"] is None
    assert campaign["channel"] == "EMAIL" and campaign["segmentId"] == target["id"]
    again = seeded.run(create, {"seg": target["id"], "channel": "SMS", "name": "spring"})
    assert again["createCampaign"]["campaign"] is None
    assert "already exists" in again["createCampaign"]["errors"][0]["message"]

    send = """mutation($id: ID!) { sendCampaign(id: $id, now: "2024-06-01T00:00:00Z") {
        campaign { status recipientCount segmentVersion
                   recipients { edges { node { contactId address contact { id } } } } }
        errors { message } } }"""
    sent = seeded.run(send, {"id": campaign["id"]})["sendCampaign"]
    assert sent["errors"] == []
    assert sent["campaign"]["status"] == "SENT" and sent["campaign"]["recipientCount"] == 2
    assert sent["campaign"]["segmentVersion"] == 1
    assert [(edge["node"]["contactId"], edge["node"]["address"], edge["node"]["contact"]["id"])
            for edge in sent["campaign"]["recipients"]["edges"]] == [
        ("c1", "anna@example.com", "c1"), ("c4", "dan@example.com", "c4")]
    read = seeded.run('query($id: ID!) { campaign(id: $id) { name status recipientCount '
                      'segment { name } } }', {"id": campaign["id"]})
    assert read["campaign"] == {"name": "Spring", "status": "SENT", "recipientCount": 2,
                                "segment": {"name": "Newsletter"}}
    assert seeded.run('{ campaign(id: "nope") { id } }')["campaign"] is None
    refused = seeded.run("""mutation($id: ID!) { deleteSegment(id: $id) {
        errors { message code } } }""", {"id": target["id"]})["deleteSegment"]
    assert refused["errors"][0]["code"] == "IN_USE" and "campaign Spring" in \
        refused["errors"][0]["message"]
