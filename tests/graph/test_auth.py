"""API keys: 401 without a valid key, role refusals as data, databases a key cannot see."""

from __future__ import annotations

import pytest

from tests.graph.conftest import GraphError
from tests.graph.seed import CREATE_SEGMENT, DEFINE_FIELD, TRACK, UPSERT, create_segment, load

QUERY = {"query": "{ fields { name } }"}


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    load(graph, "brand_b")
    return graph


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer sqk_not-a-real-key-at-all-0000"}, {"Authorization": "Bearer x"},
])
def test_missing_or_bad_key_is_401(seeded, headers) -> None:
    response = seeded.post(QUERY, key=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "data" not in response.json()


def test_401_also_for_get_queries_and_exports(seeded) -> None:
    assert seeded.get("/graphql?query={fields{name}}", key=None).status_code == 401
    assert seeded.get("/export/segments/x.csv", key=None).status_code == 401
    assert seeded.get("/export/campaigns/x/recipients.csv", key=None).status_code == 401


def test_graphiql_page_needs_no_key_but_runs_nothing(seeded) -> None:
    page = seeded.get("/graphql", key=None, headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_viewer_reads_but_cannot_write(seeded) -> None:
    viewer = seeded.new_key("viewer")
    assert seeded.run('{ contact(id: "c1") { id } }', key=viewer)["contact"] == {"id": "c1"}
    refused = seeded.run(CREATE_SEGMENT, {"input": {"name": "V", "expression": ""}},
                         key=viewer)["createSegment"]
    assert refused["segment"] is None
    assert refused["errors"][0]["code"] == "FORBIDDEN"
    assert "viewer" in refused["errors"][0]["message"]
    for mutation, variables, name in [
            (DEFINE_FIELD, {"name": "X", "type": "TEXT"}, "defineField"),
            (UPSERT, {"contacts": [{"id": "v1"}]}, "upsertContacts"),
            (TRACK, {"events": []}, "trackEvents"),
            ('mutation { createList(name: "L") { errors { code } } }', None, "createList")]:
        data = seeded.run(mutation, variables, key=viewer)
        assert data[name]["errors"][0]["code"] == "FORBIDDEN", name
    assert seeded.run('{ contact(id: "v1") { id } }')["contact"] is None


def test_editor_writes_segments_but_not_fields_or_ingestion(seeded) -> None:
    editor = seeded.new_key("editor")
    segment = create_segment(seeded, "By editor", "Age > 30", key=editor)
    history = seeded.run('query($id: ID!) { segment(id: $id) { history { by } } }',
                         {"id": segment["id"]})["segment"]["history"]
    assert history == [{"by": "key:editor key"}]
    field = seeded.run(DEFINE_FIELD, {"name": "Y", "type": "TEXT"}, key=editor)["defineField"]
    assert field["ok"] is False and "admin" in field["errors"][0]["message"]
    ingest = seeded.run(UPSERT, {"contacts": [{"id": "e1"}]}, key=editor)["upsertContacts"]
    assert ingest["stored"] == 0 and ingest["errors"][0]["code"] == "FORBIDDEN"
    events = seeded.run(TRACK, {"events": [{"contact": "c1", "type": "X",
                                            "time": "2024-01-01"}]}, key=editor)["trackEvents"]
    assert events["stored"] == 0 and events["errors"][0]["code"] == "FORBIDDEN"
    key = seeded.run('mutation { createApiKey(name: "k", role: ADMIN) { key errors { code } } }',
                     key=editor)["createApiKey"]
    assert key["key"] is None and key["errors"][0]["code"] == "FORBIDDEN"


def test_key_for_one_database_sees_nothing_of_another(seeded) -> None:
    only_b = seeded.new_key("admin", ["brand_b"])
    main_segment = create_segment(seeded, "Main only", "Age > 1")
    b_segment = create_segment(seeded, "B only", "Age > 1", database="brand_b")
    query = """query($seg: ID!) {
      databases { name timezone }
      fields { name }
      contact(id: "c1") { id }
      inB: contact(database: "brand_b", id: "c1") { id fields }
      segment(id: $seg) { name }
      segments { edges { node { name } } }
      lists { name }
      campaigns { name }
      eventTypes
      previewSegment(input: {expression: ""}) { count errors { code message } }
      searchContacts(expression: "") { edges { node { id } } errors { code } }
    }"""
    data = seeded.run(query, {"seg": main_segment["id"]}, key=only_b)
    assert data["databases"] == [{"name": "brand_b", "timezone": "UTC"}]
    assert data["fields"] == [] and data["contact"] is None and data["segment"] is None
    assert data["segments"]["edges"] == [] and data["lists"] == [] and data["campaigns"] == []
    assert data["eventTypes"] == []
    assert data["inB"]["id"] == "c1"
    assert data["previewSegment"]["count"] == 0
    assert data["previewSegment"]["errors"][0]["code"] == "FORBIDDEN"
    assert data["searchContacts"]["edges"] == []
    b_seen = seeded.run('query($seg: ID!) { segment(id: $seg) { name } }',
                        {"seg": b_segment["id"]}, key=only_b)
    assert b_seen["segment"] == {"name": "B only"}

    for mutation, variables, name in [
            (CREATE_SEGMENT, {"input": {"name": "X", "expression": ""}}, "createSegment"),
            (UPSERT, {"contacts": [{"id": "x"}]}, "upsertContacts"),
            (DEFINE_FIELD, {"name": "Z", "type": "TEXT"}, "defineField"),
            ("""mutation($id: ID!) { deleteSegment(id: $id) { errors { code } } }""",
             {"id": main_segment["id"]}, "deleteSegment"),
            ("""mutation($id: ID!) { createCampaign(name: "c", channel: EMAIL, segmentId: $id) {
                errors { code } } }""", {"id": main_segment["id"]}, "createCampaign")]:
        errors = seeded.run(mutation, variables, key=only_b)[name]["errors"]
        assert errors and errors[0]["code"] in ("FORBIDDEN", "NOT_FOUND"), name
    assert seeded.run('query($seg: ID!) { segment(id: $seg) { inBin } }',
                      {"seg": main_segment["id"]})["segment"]["inBin"] is False
    assert seeded.get(f"/export/segments/{main_segment['id']}.csv", key=only_b).status_code == 404
    assert seeded.get(f"/export/segments/{b_segment['id']}.csv", key=only_b).status_code == 200
    # A key limited to some databases cannot make a key for all of them.
    wider = seeded.run('mutation { createApiKey(name: "w", role: VIEWER) { key errors { message } } }',
                       key=only_b)["createApiKey"]
    assert wider["key"] is None and wider["errors"]


def test_create_and_revoke_keys(seeded) -> None:
    made = seeded.run("""mutation { createApiKey(name: "reporting", role: VIEWER,
        databases: ["main"]) { key apiKey { id name role databases } errors { message } } }""")
    created = made["createApiKey"]
    assert created["errors"] == [] and created["key"].startswith("sqk_")
    assert created["apiKey"]["role"] == "VIEWER" and created["apiKey"]["databases"] == ["main"]
    me = seeded.run("{ me { name role databases } }", key=created["key"])
    assert me["me"] == {"name": "reporting", "role": "VIEWER", "databases": ["main"]}
    listed = seeded.run("{ apiKeys { name } }")["apiKeys"]
    assert {"name": "reporting"} in listed
    assert seeded.run("{ apiKeys { name } }", key=created["key"])["apiKeys"] == []
    unknown_db = seeded.run("""mutation { createApiKey(name: "x", role: VIEWER,
        databases: ["nope"]) { key errors { message } } }""")["createApiKey"]
    assert unknown_db["key"] is None and "nope" in unknown_db["errors"][0]["message"]
    revoked = seeded.run('mutation($id: ID!) { revokeApiKey(id: $id) { ok errors { message } } }',
                         {"id": created["apiKey"]["id"]})["revokeApiKey"]
    assert revoked == {"ok": True, "errors": []}
    assert seeded.post(QUERY, key=created["key"]).status_code == 401


def test_bad_query_from_a_valid_key_is_a_graphql_error(seeded) -> None:
    with pytest.raises(GraphError, match="Cannot query field 'nope'"):
        seeded.run("{ nope }")
