"""DataLoaders: the store queries of a nested query do not grow with the number of rows."""

from __future__ import annotations

import pytest

from tests.graph.conftest import COMMANDS
from tests.graph.seed import TRACK, UPSERT, load

N = 40


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    contacts = [{"id": f"n{n:02d}", "fields": {"Age": 20 + n, "Email": f"n{n}@example.com"},
                 "lists": ["Nested", "Even" if n % 2 == 0 else "Odd"]} for n in range(N)]
    assert graph.run(UPSERT, {"contacts": contacts})["upsertContacts"]["stored"] == N
    events = [{"id": f"ne{n}-{k}", "contact": f"n{n:02d}", "type": "MailOpen" if k % 2 else "PageVisit",
               "time": f"2024-05-{10 + k:02d}T10:00:00Z", "attributes": {"url": f"/p{k}"}}
              for n in range(N) for k in range(3)]
    assert graph.run(TRACK, {"events": events})["trackEvents"]["stored"] == 3 * N
    return graph


NESTED = """query($first: Int) {
  searchContacts(expression: "in list \\"Nested\\"", first: $first) {
    edges { node {
      id fields lists
      events(first: 2) { id type time attributes }
      opens: events(type: "MailOpen") { id }
      eventSummary { type count last }
      memberships { name memberCount }
    } } } }"""


def _commands(graph, query: str, variables: dict) -> tuple[dict, int]:
    graph.run(query, variables)  # warm: the key is cached, indexes exist
    COMMANDS.start(graph.settings.db_name)
    try:
        data = graph.run(query, variables)
    finally:
        counted = COMMANDS.stop()
    return data, sum(counted.values())


def test_nested_contact_fields_cost_the_same_for_few_and_many_rows(seeded) -> None:
    few, few_commands = _commands(seeded, NESTED, {"first": 3})
    many, many_commands = _commands(seeded, NESTED, {"first": N})
    assert len(few["searchContacts"]["edges"]) == 3
    nodes = [edge["node"] for edge in many["searchContacts"]["edges"]]
    assert len(nodes) == N
    for node in nodes:
        assert len(node["events"]) == 2 and len(node["opens"]) == 1
        assert node["events"][0]["time"] > node["events"][1]["time"]
        assert {summary["type"] for summary in node["eventSummary"]} == {"MailOpen", "PageVisit"}
        sizes = {item["name"]: item["memberCount"] for item in node["memberships"]}
        assert sizes["Nested"] == N and sizes[node["lists"][1]] == N // 2
    assert many_commands == few_commands, (few_commands, many_commands)
    assert many_commands <= 15


def test_recipients_and_preview_contacts_use_loaders(seeded) -> None:
    segment = seeded.run("""mutation { createSegment(input: {name: "Nested all",
        expression: "in list \\"Nested\\""}) { segment { id } errors { message } } }""")
    segment_id = segment["createSegment"]["segment"]["id"]
    campaign = seeded.run("""mutation($s: ID!) { createCampaign(name: "Nested mail", channel: EMAIL,
        segmentId: $s) { campaign { id } } }""", {"s": segment_id})["createCampaign"]["campaign"]
    seeded.run('mutation($id: ID!) { sendCampaign(id: $id) { campaign { id } } }',
               {"id": campaign["id"]})
    query = """query($id: ID!, $first: Int) { campaign(id: $id) { segment { name }
      recipients(first: $first) { edges { node { address contact { id events(first: 1) { type }
      memberships { name } } } } } } }"""
    few, few_commands = _commands(seeded, query, {"id": campaign["id"], "first": 2})
    many, many_commands = _commands(seeded, query, {"id": campaign["id"], "first": N})
    assert len(many["campaign"]["recipients"]["edges"]) == N
    assert many_commands == few_commands, (few_commands, many_commands)

    preview = """query($max: Int) { previewSegment(input: {expression: "in list \\"Nested\\"",
      maximum: $max}) { count contacts { id events(first: 1) { id } eventSummary { count } } } }"""
    few, few_commands = _commands(seeded, preview, {"max": 2})
    many, many_commands = _commands(seeded, preview, {"max": N})
    assert len(many["previewSegment"]["contacts"]) == N
    assert many_commands == few_commands, (few_commands, many_commands)
