"""CSV exports over HTTP: streamed, behind the same key and database access."""

from __future__ import annotations

import csv
import io

import pytest

from tests.graph.seed import UPSERT, create_segment, load


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    many = [{"id": f"x{n:04d}", "fields": {"City": 'Quote "Town", Inc', "Age": n}}
            for n in range(2500)]
    for start in (0, 1250):  # at most 2,000 contacts per request
        batch = many[start:start + 1250]
        assert graph.run(UPSERT, {"contacts": batch})["upsertContacts"]["stored"] == 1250
    return graph


def test_segment_csv(seeded) -> None:
    segment = create_segment(seeded, "Krakow export", 'City equals "Krakow"')
    response = seeded.get(f"/export/segments/{segment['id']}.csv?now=2024-06-01T00:00:00Z")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="Krakow_export.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "Email", "MobilePhone", "FirstName", "LastName", "CreateTime",
                       "City", "Age", "Signup", "Newsletter"]
    assert sorted(row[0] for row in rows[1:]) == ["c1", "c3"]
    c1 = next(row for row in rows if row[0] == "c1")
    assert c1[rows[0].index("Signup")] == "2024-05-01T10:00:00Z"
    assert c1[rows[0].index("Newsletter")] == "true"
    runs = seeded.run('query($id: ID!) { segment(id: $id) { lastCount runs { purpose count } } }',
                      {"id": segment["id"]})["segment"]
    assert runs["lastCount"] == 2 and runs["runs"][0] == {"purpose": "export", "count": 2}


def test_large_export_is_streamed_in_chunks(seeded) -> None:
    segment = create_segment(seeded, "Quoted", "Age >= 0")
    import httpx

    chunks = 0
    with httpx.stream("GET", f"{seeded.url}/export/segments/{segment['id']}.csv",
                      headers={"Authorization": f"Bearer {seeded.admin_key}"}) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not buffered
        body = b""
        for chunk in response.iter_raw():
            chunks += 1
            body += chunk
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert len(rows) == 1 + 2500 + 5  # the header, the x contacts, c1 to c5
    assert chunks > 1
    cities = {row[0]: row[rows[0].index("City")] for row in rows[1:]}
    assert cities["x0042"] == 'Quote "Town", Inc' and cities["c1"] == "Krakow"


def test_export_refusals(seeded) -> None:
    assert seeded.get("/export/segments/nope.csv").status_code == 404
    assert seeded.get("/export/campaigns/nope/recipients.csv").status_code == 404
    segment = create_segment(seeded, "Binned export", "")
    bad_now = seeded.get(f"/export/segments/{segment['id']}.csv?now=yesterday")
    assert bad_now.status_code == 400 and "ISO 8601" in bad_now.text
    seeded.run('mutation($id: ID!) { deleteSegment(id: $id) { errors { message } } }',
               {"id": segment["id"]})
    binned = seeded.get(f"/export/segments/{segment['id']}.csv")
    assert binned.status_code == 409 and "in the bin" in binned.text


def test_events_export_and_campaign_recipients_csv(seeded) -> None:
    segment = create_segment(seeded, "Mail clickers", "event MailClick occurred")
    events = seeded.get(f"/export/segments/{segment['id']}/events.jsonl")
    assert events.status_code == 200
    lines = [line for line in events.text.splitlines() if line]
    assert {line.split('"id":"')[1].split('"')[0] for line in lines} == {"e1", "e2"}

    campaign = seeded.run("""mutation($s: ID!) { createCampaign(name: "Clicks SMS", channel: SMS,
        segmentId: $s) { campaign { id } } }""", {"s": create_segment(
        seeded, "Phones", "MobilePhone has value")["id"]})["createCampaign"]["campaign"]
    seeded.run('mutation($id: ID!) { sendCampaign(id: $id) { campaign { id } } }',
               {"id": campaign["id"]})
    response = seeded.get(f"/export/campaigns/{campaign['id']}/recipients.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [["id", "MobilePhone"], ["c2", "+48500000002"], ["c3", "+48500000003"]]
    viewer = seeded.new_key("viewer")
    assert seeded.get(f"/export/campaigns/{campaign['id']}/recipients.csv",
                      key=viewer).status_code == 200
