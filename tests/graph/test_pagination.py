"""Keyset pagination: every connection pages by cursor (a sort key, never an offset), so a
walk neither repeats nor skips items while items are added before the page."""

from __future__ import annotations

import pytest

from tests.graph.seed import UPSERT, create_segment, load

SEGMENTS = """query($first: Int, $after: String) { segments(first: $first, after: $after) {
  edges { node { name } cursor } pageInfo { hasNextPage endCursor hasPreviousPage } } }"""


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    many = [{"id": f"p{n:03d}", "fields": {"Age": n}, "lists": ["Paged"]} for n in range(45)]
    assert graph.run(UPSERT, {"contacts": many})["upsertContacts"]["stored"] == 45
    return graph


def _walk(graph, query: str, path: str, variables: dict, first: int) -> list:
    seen, after, pages = [], None, 0
    while True:
        data = graph.run(query, {**variables, "first": first, "after": after})
        for part in path.split("."):
            data = data[part]
        seen.extend(data["edges"])
        pages += 1
        assert len(data["edges"]) <= first
        if not data["pageInfo"]["hasNextPage"]:
            return seen
        after = data["pageInfo"]["endCursor"]
        assert pages < 100


def test_segments_pages_stay_right_while_segments_are_added(seeded) -> None:
    for name in ["Delta", "Alpha", "Echo", "Charlie", "Bravo", "Foxtrot", "Golf"]:
        create_segment(seeded, name, "")
    first = seeded.run(SEGMENTS, {"first": 3})["segments"]
    assert [edge["node"]["name"] for edge in first["edges"]] == ["Alpha", "Bravo", "Charlie"]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    create_segment(seeded, "Aardvark", "")  # sorts before the cursor: must not shift the walk
    second = seeded.run(SEGMENTS, {"first": 3, "after": first["pageInfo"]["endCursor"]})
    assert [edge["node"]["name"] for edge in second["segments"]["edges"]] == [
        "Delta", "Echo", "Foxtrot"]
    assert second["segments"]["pageInfo"]["hasPreviousPage"]
    names = [edge["node"]["name"] for edge in _walk(seeded, SEGMENTS, "segments", {}, 2)]
    assert names == sorted(names, key=str.casefold) and len(names) == len(set(names)) == 8


def test_search_contacts_pages(seeded) -> None:
    query = """query($first: Int, $after: String, $e: String) {
      searchContacts(expression: $e, first: $first, after: $after) {
        edges { node { id } cursor } pageInfo { hasNextPage endCursor } totalCount
        errors { message } } }"""
    expression = 'in list "Paged" and Age >= 5'
    edges = _walk(seeded, query, "searchContacts", {"e": expression}, 7)
    ids = [edge["node"]["id"] for edge in edges]
    assert sorted(ids) == [f"p{n:03d}" for n in range(5, 45)] and len(set(ids)) == 40
    whole = seeded.run(query, {"e": expression, "first": 200})["searchContacts"]
    assert [edge["node"]["id"] for edge in whole["edges"]] == ids  # the same fixed order
    assert whole["totalCount"] == 40 and not whole["pageInfo"]["hasNextPage"]
    wrong = seeded.run(query, {"e": "Agee > 1", "first": 5})["searchContacts"]
    assert wrong["edges"] == [] and "did you mean Age" in wrong["errors"][0]["message"]


def test_list_members_and_recipients_page(seeded) -> None:
    query = """query($first: Int, $after: String) { list(name: "paged") { name memberCount
      members(first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""
    edges = _walk(seeded, query, "list.members", {}, 10)
    assert [edge["node"]["id"] for edge in edges] == [f"p{n:03d}" for n in range(45)]
    assert seeded.run(query, {"first": 1})["list"]["memberCount"] == 45

    segment = create_segment(seeded, "Paged segment", 'in list "Paged"')
    campaign = seeded.run("""mutation($s: ID!) { createCampaign(name: "Paged push", channel: PUSH,
        segmentId: $s) { campaign { id } } }""", {"s": segment["id"]})["createCampaign"]["campaign"]
    sent = seeded.run('mutation($id: ID!) { sendCampaign(id: $id) { campaign { recipientCount } } }',
                      {"id": campaign["id"]})
    assert sent["sendCampaign"]["campaign"]["recipientCount"] == 45
    recipients = """query($id: ID!, $first: Int, $after: String) { campaign(id: $id) {
      recipients(first: $first, after: $after) { edges { node { contactId } }
      pageInfo { hasNextPage endCursor } } } }"""
    edges = _walk(seeded, recipients, "campaign.recipients", {"id": campaign["id"]}, 20)
    assert [edge["node"]["contactId"] for edge in edges] == [f"p{n:03d}" for n in range(45)]
