"""Hostile or careless requests get a clear refusal: depth, tokens, aliases, body size, page
size; unexpected errors are masked (and logged); time-outs say so."""

from __future__ import annotations

import logging

import pytest
from pymongo.errors import ExecutionTimeout, NetworkTimeout

from graph.limits import MAX_ALIASES, MAX_BODY_BYTES, MAX_DEPTH, MAX_TOKENS
from tests.graph.conftest import GraphError
from tests.graph.seed import load


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


def _deep(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"memberships {{ members {{ edges {{ node {{ {inner} }} }} }} }}"
    return f'{{ contact(id: "c1") {{ {inner} }} }}'


def test_too_deep_is_refused_before_running(seeded) -> None:
    assert seeded.run(_deep(1))["contact"]["memberships"]  # depth 6: fine
    with pytest.raises(GraphError) as caught:
        seeded.run(_deep(4))
    assert f"exceeds maximum operation depth of {MAX_DEPTH}" in str(caught.value)
    assert caught.value.data is None


def test_too_many_aliases(seeded) -> None:
    query = "{ " + " ".join(f"a{n}: databases {{ name }}" for n in range(MAX_ALIASES + 1)) + " }"
    with pytest.raises(GraphError, match=f"{MAX_ALIASES + 1} aliases found. Allowed: "
                                         f"{MAX_ALIASES}"):
        seeded.run(query)
    fine = "{ " + " ".join(f"a{n}: databases {{ name }}" for n in range(MAX_ALIASES)) + " }"
    assert len(seeded.run(fine)) == MAX_ALIASES


def test_too_many_tokens(seeded) -> None:
    query = "{ databases { name " + "name " * MAX_TOKENS + "} }"
    response = seeded.post({"query": query})
    assert response.status_code in (200, 400)
    message = response.json()["errors"][0]["message"]
    assert f"Document contains more than {MAX_TOKENS} tokens" in message


def test_too_big_body_is_413(seeded) -> None:
    body = b'{"query": "{ databases { name } }", "padding": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = seeded.post(body)
    assert response.status_code == 413
    assert "larger than" in response.json()["errors"][0]["message"]

    def chunks():  # no Content-Length: refused as the bytes arrive
        yield b'{"query": "{ databases { name } }", "padding": "'
        for _ in range(64):
            yield b"x" * 32768
        yield b'"}'
    response = seeded.post(chunks())
    assert response.status_code == 413
    small = seeded.post({"query": "{ databases { name } }", "padding": "x" * 1000})
    assert small.status_code == 200 and small.json()["data"]["databases"] == [{"name": "main"}]


def test_page_size_limit(seeded) -> None:
    with pytest.raises(GraphError, match="first must be a whole number from 0 to 200"):
        seeded.run("{ segments(first: 201) { edges { cursor } } }")
    with pytest.raises(GraphError, match="first must be a whole number from 0 to 200"):
        seeded.run('{ searchContacts(expression: "", first: 1000) { edges { cursor } } }')
    with pytest.raises(GraphError, match="first must be from 0 to 200"):
        seeded.run('{ contact(id: "c1") { events(first: 5000) { id } } }')
    with pytest.raises(GraphError, match="is not a cursor of this list"):
        seeded.run('{ segments(after: "garbage") { edges { cursor } } }')


def test_unexpected_errors_are_masked_and_logged(seeded, monkeypatch, caplog) -> None:
    import graph.fields

    async def broken(db):
        raise RuntimeError("internal detail: password=hunter2")
    monkeypatch.setattr(graph.fields, "list_database_timezones", broken)
    with caplog.at_level(logging.ERROR, logger="segmentql.graph"):
        response = seeded.post({"query": "{ databases { name } }"})
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in response.text
    assert any("hunter2" in record.getMessage() for record in caplog.records)


def test_timeouts_are_reported_as_such(seeded, monkeypatch) -> None:
    import graph.segments

    async def slow(*args, **kwargs):
        raise ExecutionTimeout("operation exceeded time limit", 50)
    monkeypatch.setattr(graph.segments, "preview_segment", slow)
    preview = seeded.run('{ previewSegment(input: {expression: ""}) { count errors { code message } } }')
    assert preview["previewSegment"]["errors"][0]["code"] == "TIMEOUT"

    async def cut(*args, **kwargs):
        raise NetworkTimeout("timed out")
    monkeypatch.setattr(graph.segments, "list_segments", cut)
    with pytest.raises(GraphError, match="longer than the server's time limit"):
        seeded.run("{ segments { edges { cursor } } }")


def test_every_query_has_the_store_time_limit(seeded) -> None:
    store = seeded.app.state.store
    assert store.client.options.timeout == seeded.settings.query_timeout_ms / 1000


def test_heavy_work_waits_for_a_slot_then_is_refused_as_busy(seeded, monkeypatch) -> None:
    from graph.limits import Gate

    monkeypatch.setattr(seeded.app.state, "gate", Gate(slots=0, wait=0.2))  # no capacity
    preview = seeded.run('{ previewSegment(input: {expression: ""}) { count errors { code message } } }')
    assert preview["previewSegment"]["errors"][0]["code"] == "BUSY"
    assert "try again" in preview["previewSegment"]["errors"][0]["message"]
    cheap = seeded.run('{ contact(id: "c1") { id } }')  # reads never wait
    assert cheap["contact"] == {"id": "c1"}


def test_gate_runs_at_most_its_slots_at_once() -> None:
    import asyncio

    from graph.limits import Gate

    async def scenario() -> int:
        gate, running, peak = Gate(slots=2, wait=5), 0, 0

        async def work() -> None:
            nonlocal running, peak
            async with gate.slot():
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.01)
                running -= 1
        await asyncio.gather(*(work() for _ in range(10)))
        return peak
    assert asyncio.run(scenario()) == 2
