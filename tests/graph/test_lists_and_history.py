"""Static lists over GraphQL, copying a segment into a list, and a segment's versions,
history, analytics and purge."""

from __future__ import annotations

import pytest

from tests.graph.seed import NOW, create_segment, load


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


def test_lists(seeded) -> None:
    made = seeded.run('mutation { createList(name: "Hot leads") { list { name database } '
                      'errors { message code } } }')["createList"]
    assert made == {"list": {"name": "Hot leads", "database": "main"}, "errors": []}
    taken = seeded.run('mutation { createList(name: "hot LEADS") { list { name } '
                       'errors { message code } } }')["createList"]
    assert taken["list"] is None and taken["errors"][0]["code"] == "NAME_TAKEN"
    add = """mutation($ids: [ID!]!) { addToList(name: "Hot leads", contactIds: $ids) {
        changed unchanged unknown errors { message } } }"""
    assert seeded.run(add, {"ids": ["c1", "c2", "ghost"]})["addToList"] == {
        "changed": 2, "unchanged": 0, "unknown": ["ghost"], "errors": []}
    assert seeded.run(add, {"ids": ["c2"]})["addToList"]["unchanged"] == 1
    removed = seeded.run("""mutation { removeFromList(name: "Hot leads", contactIds: ["c1"]) {
        changed errors { message } } }""")["removeFromList"]
    assert removed == {"changed": 1, "errors": []}
    listed = seeded.run("{ lists { name memberCount } }")["lists"]
    assert {"name": "Hot leads", "memberCount": 1} in listed
    assert {"name": "VIP", "memberCount": 2} in listed
    missing = seeded.run("""mutation { addToList(name: "Nope", contactIds: ["c1"]) {
        errors { code } } }""")["addToList"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    contact = seeded.run('{ contact(id: "c2") { lists memberships { name } } }')["contact"]
    assert contact["lists"] == ["Hot leads"] and contact["memberships"] == [{"name": "Hot leads"}]


def test_copy_segment_to_list(seeded) -> None:
    segment = create_segment(seeded, "Older", "Age >= 45")
    copy = """mutation($id: ID!) { copySegmentToList(id: $id, list: "Older people") {
        members changed errors { message } } }"""
    assert seeded.run(copy, {"id": segment["id"]})["copySegmentToList"] == {
        "members": 2, "changed": 2, "errors": []}
    assert seeded.run(copy, {"id": segment["id"]})["copySegmentToList"]["changed"] == 0
    members = seeded.run('{ list(name: "older people") { name members { edges { node { id } } } } }')
    assert members["list"]["name"] == "Older people"
    assert [edge["node"]["id"] for edge in members["list"]["members"]["edges"]] == ["c2", "c4"]


def test_versions_history_restore_and_purge(seeded) -> None:
    segment = create_segment(seeded, "Versioned", "Age > 20")
    update = """mutation($id: ID!, $input: SegmentInput!, $note: String, $v: Int) {
        updateSegment(id: $id, input: $input, note: $note, expectedVersion: $v) {
          segment { version name expression tags } errors { message code } } }"""
    two = seeded.run(update, {"id": segment["id"], "input": {"expression": "Age > 30"},
                              "note": "stricter", "v": 1})["updateSegment"]
    assert two["segment"]["version"] == 2
    stale = seeded.run(update, {"id": segment["id"], "input": {"tags": ["x"]}, "v": 1})
    assert stale["updateSegment"]["errors"][0]["code"] == "CONFLICT"
    three = seeded.run(update, {"id": segment["id"], "input": {"name": "Versioned 2",
                                                               "tags": ["Ops"]}})
    assert three["updateSegment"]["segment"] == {"version": 3, "name": "Versioned 2",
                                                 "expression": "Age > 30", "tags": ["Ops"]}
    same = seeded.run(update, {"id": segment["id"], "input": {"expression": "Age>30"}})
    assert same["updateSegment"]["segment"]["version"] == 3  # no change, no version
    moved = seeded.run(update, {"id": segment["id"], "input": {"database": "other"}})
    assert "fixed when it is created" in moved["updateSegment"]["errors"][0]["message"]

    history = seeded.run('query($id: ID!) { segment(id: $id) { history { version changed note '
                         'expression name at } } }', {"id": segment["id"]})["segment"]["history"]
    assert [(item["version"], item["changed"], item["note"]) for item in history][1:] == [
        (2, ["expression"], "stricter"), (3, ["name", "tags"], None)]
    assert history[0]["expression"] == "Age > 20" and history[0]["at"].endswith("Z")

    restored = seeded.run("""mutation($id: ID!) { restoreSegmentVersion(id: $id, version: 1) {
        segment { version expression name } errors { message } } }""", {"id": segment["id"]})
    assert restored["restoreSegmentVersion"]["segment"] == {
        "version": 4, "expression": "Age > 20", "name": "Versioned"}

    counted = seeded.run(f'query($id: ID!) {{ segment(id: $id) {{ count(now: "{NOW}") }} }}',
                         {"id": segment["id"]})["segment"]
    assert counted["count"] == 5
    count = seeded.run('query($id: ID!) { segment(id: $id) { lastCount lastCountAt '
                       'sizes { count } runs { purpose actor count } } }',
                       {"id": segment["id"]})["segment"]
    assert count["lastCount"] == 5 and count["lastCountAt"].endswith("Z")
    assert count["sizes"][-1]["count"] == 5
    assert count["runs"][0] == {"purpose": "count", "actor": "key:development", "count": 5}

    purge = 'mutation($id: ID!) { purgeSegment(id: $id) { ok errors { message } } }'
    live = seeded.run(purge, {"id": segment["id"]})["purgeSegment"]
    assert live["ok"] is False and "not in the bin" in live["errors"][0]["message"]
    seeded.run('mutation($id: ID!) { deleteSegment(id: $id) { errors { message } } }',
               {"id": segment["id"]})
    assert seeded.run(purge, {"id": segment["id"]})["purgeSegment"] == {"ok": True, "errors": []}
    assert seeded.run('query($id: ID!) { segment(id: $id) { id } }',
                      {"id": segment["id"]})["segment"] is None


def test_history_names_changed_attributes_as_the_api_does(seeded) -> None:
    segment = create_segment(seeded, "Camel history", "Age > 20")
    update = """mutation($id: ID!, $input: SegmentInput!) { updateSegment(id: $id, input: $input)
        { segment { version } errors { message } } }"""
    changed = seeded.run(update, {"id": segment["id"], "input": {
        "rangeFrom": 10, "rangeTo": 90, "accessGroups": ["ops"], "maximum": 5}})
    assert changed["updateSegment"] == {"segment": {"version": 2}, "errors": []}
    history = seeded.run('query($id: ID!) { segment(id: $id) { history { changed } } }',
                         {"id": segment["id"]})["segment"]["history"]
    assert sorted(history[1]["changed"]) == ["accessGroups", "maximum", "rangeFrom", "rangeTo"]
    assert "rangeFrom" in history[0]["changed"]  # version 1: every attribute


def test_segment_members_and_campaigns(seeded) -> None:
    segment = create_segment(seeded, "VIP members", 'in list "VIP"')
    data = seeded.run('query($id: ID!) { segment(id: $id) { members { edges { node { id } } '
                      'totalCount } campaigns { name } } }', {"id": segment["id"]})["segment"]
    assert sorted(edge["node"]["id"] for edge in data["members"]["edges"]) == ["c1", "c4"]
    assert data["members"]["totalCount"] == 2 and data["campaigns"] == []


def test_json_form_segment_and_clone_name_clash(seeded) -> None:
    made = seeded.run("""mutation($json: JSON!) { createSegment(input: {name: "From JSON",
        json: $json, rangeFrom: 0, rangeTo: 50, maximum: 3}) {
        segment { id expression rangeTo maximum } errors { message } } }""",
                      {"json": {"version": 1, "condition": {"field": "Age", "op": "gte",
                                                            "value": 18}}})
    segment = made["createSegment"]["segment"]
    assert segment["expression"] == "Age >= 18" and segment["rangeTo"] == 50
    clash = seeded.run("""mutation($id: ID!) { cloneSegment(id: $id, name: "from json") {
        segment { id } errors { code } } }""", {"id": segment["id"]})["cloneSegment"]
    assert clash == {"segment": None, "errors": [{"code": "NAME_TAKEN"}]}
